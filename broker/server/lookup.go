package server

import (
	"context"
	"time"

	"github.com/strata-io/strata/broker/errcode"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/proto/pulsar"
)

// handleLookup answers with the broker that serves the topic: this one, the owner of
// its bundle, or — when nobody owns the bundle — the broker chosen to own it, as a
// redirect with authoritative set (that broker then claims it). Without ownership
// (unit tests) every topic is served here.
func (c *conn) handleLookup(cmd *pulsar.CommandLookupTopic) {
	reqID := cmd.GetRequestId()
	name, err := topic.Parse(cmd.GetTopic())
	if err != nil {
		c.send(wire.NewLookupFailed(reqID, errcode.ServerError(err), err.Error()))
		return
	}
	own := c.srv.svc.Ownership()
	if own == nil {
		c.send(wire.NewLookupConnect(reqID, c.srv.cfg.AdvertisedURL, "", true))
		return
	}
	c.async(func(ctx context.Context) {
		// Bounded well below the client's operation timeout: a broker cut off from etcd
		// fails the lookup, and the client asks another broker.
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		res, err := own.Lookup(ctx, name, cmd.GetAuthoritative())
		switch {
		case err != nil:
			c.send(wire.NewLookupFailed(reqID, errcode.ServerError(err), err.Error()))
		case res.Redirect:
			c.send(wire.NewLookupRedirect(reqID, res.Target.PulsarURL, "", true))
		default:
			c.send(wire.NewLookupConnect(reqID, res.Target.PulsarURL, "", true))
		}
	})
}

func (c *conn) handlePartitionedMetadata(cmd *pulsar.CommandPartitionedTopicMetadata) {
	reqID := cmd.GetRequestId()
	name, err := topic.Parse(cmd.GetTopic())
	if err != nil {
		c.send(wire.NewPartitionedMetadataError(reqID, errcode.ServerError(err), err.Error()))
		return
	}
	c.async(func(ctx context.Context) {
		n, err := c.srv.svc.Namespaces.PartitionedMetadata(ctx, name)
		if err != nil {
			c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
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
			c.send(wire.NewError(reqID, errcode.ServerError(err), err.Error()))
			return
		}
		c.send(wire.NewGetTopicsOfNamespaceResponse(reqID, topics))
	})
}
