package server

import (
	"context"

	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/proto/pulsar"
)

// handleLookup answers with this broker's URL: a single broker serves every topic.
// (Cluster mode will redirect to the bundle owner.)
func (c *conn) handleLookup(cmd *pulsar.CommandLookupTopic) {
	reqID := cmd.GetRequestId()
	if _, err := topic.Parse(cmd.GetTopic()); err != nil {
		c.send(wire.NewLookupFailed(reqID, pulsar.ServerError_InvalidTopicName, err.Error()))
		return
	}
	c.send(wire.NewLookupConnect(reqID, c.srv.cfg.AdvertisedURL, "", true))
}

func (c *conn) handlePartitionedMetadata(cmd *pulsar.CommandPartitionedTopicMetadata) {
	reqID := cmd.GetRequestId()
	name, err := topic.Parse(cmd.GetTopic())
	if err != nil {
		c.send(wire.NewPartitionedMetadataError(reqID, pulsar.ServerError_InvalidTopicName, err.Error()))
		return
	}
	c.async(func(ctx context.Context) {
		n, err := c.srv.svc.Namespaces.PartitionedMetadata(ctx, name)
		if err != nil {
			c.send(wire.NewError(reqID, serverError(err), err.Error()))
			return
		}
		c.send(wire.NewPartitionedMetadataResponse(reqID, uint32(n)))
	})
}

func (c *conn) handleTopicsOfNamespace(cmd *pulsar.CommandGetTopicsOfNamespace) {
	reqID := cmd.GetRequestId()
	ns := cmd.GetNamespace()
	c.async(func(ctx context.Context) {
		if topic.ValidateNamespace(ns) != nil {
			c.send(wire.NewGetTopicsOfNamespaceResponse(reqID, nil))
			return
		}
		topics, err := c.srv.svc.Namespaces.TopicsOf(ctx, ns)
		if err != nil {
			c.send(wire.NewError(reqID, serverError(err), err.Error()))
			return
		}
		c.send(wire.NewGetTopicsOfNamespaceResponse(reqID, topics))
	})
}
