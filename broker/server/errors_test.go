package server

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/broker/wire"
	"github.com/strata-io/strata/proto/pulsar"
)

// failure is what a failed answer carries, whatever its command type.
type failure struct {
	reqID uint64
	code  pulsar.ServerError
	msg   string
}

// failureOf extracts the failure from an answer; ok is false for a success.
func failureOf(cmd *pulsar.BaseCommand) (f failure, ok bool) {
	switch cmd.GetType() {
	case pulsar.BaseCommand_ERROR:
		e := cmd.GetError()
		return failure{e.GetRequestId(), e.GetError(), e.GetMessage()}, true
	case pulsar.BaseCommand_LOOKUP_RESPONSE:
		l := cmd.GetLookupTopicResponse()
		return failure{l.GetRequestId(), l.GetError(), l.GetMessage()}, l.GetResponse() == pulsar.CommandLookupTopicResponse_Failed
	case pulsar.BaseCommand_PARTITIONED_METADATA_RESPONSE:
		p := cmd.GetPartitionMetadataResponse()
		return failure{p.GetRequestId(), p.GetError(), p.GetMessage()}, p.GetResponse() == pulsar.CommandPartitionedTopicMetadataResponse_Failed
	case pulsar.BaseCommand_GET_SCHEMA_RESPONSE:
		s := cmd.GetGetSchemaResponse()
		return failure{s.GetRequestId(), s.GetErrorCode(), s.GetErrorMessage()}, s.ErrorCode != nil
	}
	return failure{}, false
}

// TestErrorCodesOnTheWire: the codes clients see for our errors (broker/errcode's table
// and the handlers' own request checks).
func TestErrorCodesOnTheWire(t *testing.T) {
	e := newEnv(t)
	const busy = "persistent://public/default/busy"
	// Holders: an exclusive producer, and an exclusive subscription with a consumer.
	holder := e.connect(t)
	excl := producerCmd(busy, 1, 1)
	excl.Producer.ProducerAccessMode = pulsar.ProducerAccessMode_Exclusive.Enum()
	holder.send(excl)
	holder.expect(pulsar.BaseCommand_PRODUCER_SUCCESS)
	holder.send(subscribeCmd(busy, "excl", pulsar.CommandSubscribe_Exclusive, 1, 2))
	holder.expect(pulsar.BaseCommand_SUCCESS)
	const shared = "persistent://public/default/shared-producer"
	holder.send(producerCmd(shared, 2, 3))
	holder.expect(pulsar.BaseCommand_PRODUCER_SUCCESS)

	const bad = "persistent://public/default/bad/topic/name"
	withMode := func(cmd *pulsar.BaseCommand, m pulsar.ProducerAccessMode) *pulsar.BaseCommand {
		cmd.Producer.ProducerAccessMode = m.Enum()
		return cmd
	}
	noCreate := subscribeCmd("persistent://public/default/never-created", "s", pulsar.CommandSubscribe_Shared, 5, 10)
	noCreate.Subscribe.ForceTopicCreation = proto.Bool(false)
	sticky := subscribeCmd("persistent://public/default/sticky", "s", pulsar.CommandSubscribe_Key_Shared, 6, 10)
	sticky.Subscribe.KeySharedMeta = &pulsar.KeySharedMeta{KeySharedMode: pulsar.KeySharedMode_STICKY.Enum()} // no ranges

	for _, tc := range []struct {
		name string
		cmd  *pulsar.BaseCommand
		code pulsar.ServerError
		msg  string // when set, the message too
	}{
		{"PRODUCER invalid topic name", producerCmd(bad, 1, 10), pulsar.ServerError_InvalidTopicName, ""},
		{"PRODUCER shared beside an exclusive one", producerCmd(busy, 1, 10), pulsar.ServerError_ProducerBusy, ""},
		{"PRODUCER exclusive beside a shared one", withMode(producerCmd(shared, 1, 10), pulsar.ProducerAccessMode_Exclusive), pulsar.ServerError_ProducerFenced, ""},
		{"SUBSCRIBE invalid topic name", subscribeCmd(bad, "s", pulsar.CommandSubscribe_Shared, 1, 10), pulsar.ServerError_InvalidTopicName, ""},
		{"SUBSCRIBE busy exclusive subscription", subscribeCmd(busy, "excl", pulsar.CommandSubscribe_Exclusive, 2, 10), pulsar.ServerError_ConsumerBusy, ""},
		{"SUBSCRIBE shared to an exclusive subscription", subscribeCmd(busy, "excl", pulsar.CommandSubscribe_Shared, 3, 10), pulsar.ServerError_ConsumerBusy, ""},
		{"SUBSCRIBE unknown topic without creation", noCreate, pulsar.ServerError_TopicNotFound, ""},
		{"SUBSCRIBE Key_Shared sticky without ranges", sticky, pulsar.ServerError_ConsumerAssignError, ""},
		{"LOOKUP invalid topic name", &pulsar.BaseCommand{Type: pulsar.BaseCommand_LOOKUP.Enum(), LookupTopic: &pulsar.CommandLookupTopic{
			Topic: proto.String(bad), RequestId: proto.Uint64(10)}}, pulsar.ServerError_InvalidTopicName, ""},
		{"PARTITIONED_METADATA invalid topic name", &pulsar.BaseCommand{Type: pulsar.BaseCommand_PARTITIONED_METADATA.Enum(), PartitionMetadata: &pulsar.CommandPartitionedTopicMetadata{
			Topic: proto.String(bad), RequestId: proto.Uint64(10)}}, pulsar.ServerError_InvalidTopicName, ""},
		{"GET_SCHEMA invalid topic name", &pulsar.BaseCommand{Type: pulsar.BaseCommand_GET_SCHEMA.Enum(), GetSchema: &pulsar.CommandGetSchema{
			Topic: proto.String(bad), RequestId: proto.Uint64(10)}}, pulsar.ServerError_InvalidTopicName, ""},
		{"GET_SCHEMA of a topic without one", &pulsar.BaseCommand{Type: pulsar.BaseCommand_GET_SCHEMA.Enum(), GetSchema: &pulsar.CommandGetSchema{
			Topic: proto.String(busy), RequestId: proto.Uint64(10)}}, pulsar.ServerError_TopicNotFound, wire.SchemaNotFoundMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.connect(t)
			c.send(tc.cmd)
			got := c.next().Command
			f, failed := failureOf(got)
			if !failed {
				t.Fatalf("answer %v, want a failure with %s", got, tc.code)
			}
			if f.reqID != 10 || f.code != tc.code || tc.msg != "" && f.msg != tc.msg {
				t.Fatalf("%s for request %d with %s (%q), want request 10 with %s %q", got.GetType(), f.reqID, f.code, f.msg, tc.code, tc.msg)
			}
			// The connection goes on.
			c.send(wire.NewPing())
			c.expect(pulsar.BaseCommand_PONG)
		})
	}

	// Without ownership every lookup names this broker.
	c := e.connect(t)
	c.send(&pulsar.BaseCommand{Type: pulsar.BaseCommand_LOOKUP.Enum(), LookupTopic: &pulsar.CommandLookupTopic{
		Topic: proto.String(busy), RequestId: proto.Uint64(11)}})
	l := c.expect(pulsar.BaseCommand_LOOKUP_RESPONSE).GetLookupTopicResponse()
	if l.GetResponse() != pulsar.CommandLookupTopicResponse_Connect || l.GetBrokerServiceUrl() != "pulsar://broker.test:6650" || !l.GetAuthoritative() {
		t.Fatalf("LOOKUP answered %v, want Connect to pulsar://broker.test:6650, authoritative", l)
	}
}
