package server

import (
	"context"
	"encoding/binary"
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/broker/errcode"
	"github.com/strata-io/strata/broker/resources"
	"github.com/strata-io/strata/broker/topic"
	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/proto/pulsar"
)

// Schema commands (GET_SCHEMA, GET_OR_CREATE_SCHEMA; their messages are CommandGetSchema
// and CommandGetOrCreateSchema in pulsar-common/src/main/proto/PulsarApi.proto of
// github.com/apache/pulsar) over service.Schemas. Versions travel as 8-byte big-endian
// integers, as Pulsar's do.

func schemaVersionBytes(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// schemaVersion decodes a wire version; ok is false for an absent or malformed one.
func schemaVersion(b []byte) (int64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b)), true
}

func schemaInfo(s *pulsar.Schema) resources.SchemaInfo {
	info := resources.SchemaInfo{Name: s.GetName(), Type: int32(s.GetType()), Data: s.GetSchemaData()}
	if len(s.GetProperties()) > 0 {
		info.Properties = make(map[string]string, len(s.GetProperties()))
		for _, kv := range s.GetProperties() {
			info.Properties[kv.GetKey()] = kv.GetValue()
		}
	}
	return info
}

func schemaProto(info resources.SchemaInfo) *pulsar.Schema {
	s := &pulsar.Schema{Name: proto.String(info.Name), SchemaData: info.Data, Type: pulsar.Schema_Type(info.Type).Enum()}
	if s.SchemaData == nil {
		s.SchemaData = []byte{} // required: present even when empty
	}
	for k, v := range info.Properties {
		s.Properties = append(s.Properties, &pulsar.KeyValue{Key: proto.String(k), Value: proto.String(v)})
	}
	return s
}

func (c *conn) handleGetSchema(cmd *pulsar.CommandGetSchema) {
	reqID := cmd.GetRequestId()
	name, err := topic.Parse(cmd.GetTopic())
	if err != nil {
		c.send(wire.NewGetSchemaError(reqID, errcode.ServerError(err), err.Error()))
		return
	}
	version, ok := schemaVersion(cmd.GetSchemaVersion())
	if !ok {
		version = -1 // latest
	}
	c.async(func(ctx context.Context) {
		info, v, err := c.srv.svc.Schemas.Get(ctx, name, version)
		if err != nil {
			msg := err.Error()
			if errors.Is(err, resources.ErrSchemaNotFound) {
				msg = wire.SchemaNotFoundMessage // Pulsar's text for a topic without a schema
			}
			c.send(wire.NewGetSchemaError(reqID, errcode.ServerError(err), msg))
			return
		}
		c.send(wire.NewGetSchemaResponse(reqID, schemaProto(info), schemaVersionBytes(v)))
	})
}

func (c *conn) handleGetOrCreateSchema(cmd *pulsar.CommandGetOrCreateSchema) {
	reqID := cmd.GetRequestId()
	name, err := topic.Parse(cmd.GetTopic())
	if err != nil {
		c.send(wire.NewGetOrCreateSchemaError(reqID, errcode.ServerError(err), err.Error()))
		return
	}
	c.async(func(ctx context.Context) {
		v, err := c.srv.svc.Schemas.GetOrCreate(ctx, name, schemaInfo(cmd.GetSchema()))
		if err != nil {
			c.send(wire.NewGetOrCreateSchemaError(reqID, errcode.ServerError(err), err.Error()))
			return
		}
		c.send(wire.NewGetOrCreateSchemaResponse(reqID, schemaVersionBytes(v)))
	})
}
