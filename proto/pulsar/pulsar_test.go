package pulsar

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// These tests pin parts of the schema that Pulsar clients depend on, so that an edit of
// pulsar.proto that would break the wire contract fails here rather than in a client.

// TestBaseCommandBodies: a body's field number is its type's enum value; every served
// type has a body; the unserved ones (transactions, topic-list watchers) have none.
func TestBaseCommandBodies(t *testing.T) {
	md := (&BaseCommand{}).ProtoReflect().Descriptor()
	types := BaseCommand_CONNECT.Descriptor().Values()
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		if fd.Number() == 1 {
			continue
		}
		if types.ByNumber(protoreflect.EnumNumber(fd.Number())) == nil {
			t.Errorf("body field %s (%d) matches no BaseCommand.Type", fd.Name(), fd.Number())
		}
	}
	for i := range types.Len() {
		v := types.Get(i)
		_, unserved := unservedTypes[BaseCommand_Type(v.Number())]
		hasBody := md.Fields().ByNumber(protoreflect.FieldNumber(v.Number())) != nil
		if hasBody == unserved {
			t.Errorf("%s: has body field = %v, unserved = %v", v.Name(), hasBody, unserved)
		}
	}
	if n := types.Len(); n != 39+18+1 {
		t.Errorf("BaseCommand.Type has %d values, want 58 (2-40, 50-67, 68)", n)
	}
}

var unservedTypes = map[BaseCommand_Type]struct{}{
	BaseCommand_NEW_TXN: {}, BaseCommand_NEW_TXN_RESPONSE: {},
	BaseCommand_ADD_PARTITION_TO_TXN: {}, BaseCommand_ADD_PARTITION_TO_TXN_RESPONSE: {},
	BaseCommand_ADD_SUBSCRIPTION_TO_TXN: {}, BaseCommand_ADD_SUBSCRIPTION_TO_TXN_RESPONSE: {},
	BaseCommand_END_TXN: {}, BaseCommand_END_TXN_RESPONSE: {},
	BaseCommand_END_TXN_ON_PARTITION: {}, BaseCommand_END_TXN_ON_PARTITION_RESPONSE: {},
	BaseCommand_END_TXN_ON_SUBSCRIPTION: {}, BaseCommand_END_TXN_ON_SUBSCRIPTION_RESPONSE: {},
	BaseCommand_TC_CLIENT_CONNECT_REQUEST: {}, BaseCommand_TC_CLIENT_CONNECT_RESPONSE: {},
	BaseCommand_WATCH_TOPIC_LIST: {}, BaseCommand_WATCH_TOPIC_LIST_SUCCESS: {},
	BaseCommand_WATCH_TOPIC_UPDATE: {}, BaseCommand_WATCH_TOPIC_LIST_CLOSE: {},
}

// TestRequiredFields pins proto2 required-ness where the client's strict decoder makes
// it matter, in both directions: a field wrongly marked optional lets us send frames the
// client rejects; a field wrongly marked required makes us reject valid client frames.
func TestRequiredFields(t *testing.T) {
	tests := []struct {
		msg      protoreflect.ProtoMessage
		required []string
		optional []string
	}{
		{&MessageIdData{}, []string{"ledgerId", "entryId"}, []string{"partition", "batch_index", "batch_size"}},
		{&CommandConnected{}, []string{"server_version"}, []string{"protocol_version", "max_message_size"}},
		{&CommandConnect{}, []string{"client_version"}, []string{"auth_method_name", "auth_data", "protocol_version"}},
		{&CommandSuccess{}, []string{"request_id"}, []string{"schema"}},
		{&CommandError{}, []string{"request_id", "error", "message"}, nil},
		{&CommandProducerSuccess{}, []string{"request_id", "producer_name"}, []string{"last_sequence_id", "schema_version", "producer_ready"}},
		{&CommandSendReceipt{}, []string{"producer_id", "sequence_id"}, []string{"message_id", "highest_sequence_id"}},
		{&CommandSendError{}, []string{"producer_id", "sequence_id", "error", "message"}, nil},
		{&CommandMessage{}, []string{"consumer_id", "message_id"}, []string{"redelivery_count", "ack_set"}},
		{&CommandPartitionedTopicMetadataResponse{}, []string{"request_id"}, []string{"partitions", "response", "error"}},
		{&CommandLookupTopicResponse{}, []string{"request_id"}, []string{"response", "brokerServiceUrl", "error"}},
		{&CommandGetTopicsOfNamespaceResponse{}, []string{"request_id"}, nil},
		{&CommandGetSchemaResponse{}, []string{"request_id"}, []string{"schema", "error_code"}},
		{&CommandGetOrCreateSchemaResponse{}, []string{"request_id"}, []string{"schema_version", "error_code"}},
		{&CommandAckResponse{}, []string{"consumer_id"}, []string{"request_id", "message"}},
		{&CommandCloseProducer{}, []string{"producer_id", "request_id"}, []string{"assignedBrokerServiceUrl"}},
		{&CommandCloseConsumer{}, []string{"consumer_id", "request_id"}, []string{"assignedBrokerServiceUrl"}},
		{&CommandGetLastMessageIdResponse{}, []string{"last_message_id", "request_id"}, []string{"consumer_mark_delete_position"}},
		{&CommandActiveConsumerChange{}, []string{"consumer_id"}, []string{"is_active"}},
		{&Schema{}, []string{"name", "schema_data", "type"}, nil},
		{&MessageMetadata{}, []string{"producer_name", "sequence_id", "publish_time"}, []string{"num_messages_in_batch", "ordering_key"}},
		{&SingleMessageMetadata{}, []string{"payload_size"}, []string{"sequence_id"}},
		{&CommandSend{}, []string{"producer_id", "sequence_id"}, []string{"num_messages", "is_chunk"}},
		{&CommandSubscribe{}, []string{"topic", "subscription", "subType", "consumer_id", "request_id"}, []string{"start_message_id", "keySharedMeta"}},
		{&CommandAck{}, []string{"consumer_id", "ack_type"}, []string{"request_id", "validation_error"}},
		{&BaseCommand{}, []string{"type"}, nil},
	}
	for _, tt := range tests {
		md := tt.msg.ProtoReflect().Descriptor()
		t.Run(string(md.Name()), func(t *testing.T) {
			for _, names := range []struct {
				list []string
				want bool
			}{{tt.required, true}, {tt.optional, false}} {
				for _, name := range names.list {
					fd := md.Fields().ByName(protoreflect.Name(name))
					if fd == nil {
						t.Errorf("no field %s", name)
						continue
					}
					if got := fd.Cardinality() == protoreflect.Required; got != names.want {
						t.Errorf("%s required = %v, want %v", name, got, names.want)
					}
				}
			}
		})
	}
}

// TestDefaults pins the defaults clients read through getters of absent fields.
func TestDefaults(t *testing.T) {
	if v := (&MessageIdData{}).GetPartition(); v != -1 {
		t.Errorf("MessageIdData.partition default = %d", v)
	}
	if v := (&MessageIdData{}).GetBatchIndex(); v != -1 {
		t.Errorf("MessageIdData.batch_index default = %d", v)
	}
	if v := (&CommandProducerSuccess{}).GetLastSequenceId(); v != -1 {
		t.Errorf("CommandProducerSuccess.last_sequence_id default = %d", v)
	}
	if !(&CommandProducerSuccess{}).GetProducerReady() {
		t.Error("CommandProducerSuccess.producer_ready default is false")
	}
	if !(&CommandSubscribe{}).GetDurable() || !(&CommandSubscribe{}).GetForceTopicCreation() {
		t.Error("CommandSubscribe.durable / force_topic_creation default is false")
	}
	if v := (&MessageMetadata{}).GetNumMessagesInBatch(); v != 1 {
		t.Errorf("MessageMetadata.num_messages_in_batch default = %d", v)
	}
	if !(&CommandGetTopicsOfNamespaceResponse{}).GetChanged() {
		t.Error("CommandGetTopicsOfNamespaceResponse.changed default is false")
	}
}

// TestEnumNumbers pins enum values clients match on by name or number.
func TestEnumNumbers(t *testing.T) {
	tests := []struct {
		got  protoreflect.Enum
		name string
		num  protoreflect.EnumNumber
	}{
		{ServerError_ConsumerBusy, "ConsumerBusy", 5},
		{ServerError_ServiceNotReady, "ServiceNotReady", 6},
		{ServerError_ProducerBlockedQuotaExceededException, "ProducerBlockedQuotaExceededException", 8},
		{ServerError_ChecksumError, "ChecksumError", 9},
		{ServerError_TopicNotFound, "TopicNotFound", 11},
		{ServerError_TopicTerminatedError, "TopicTerminatedError", 15},
		{ServerError_ProducerBusy, "ProducerBusy", 16},
		{ServerError_IncompatibleSchema, "IncompatibleSchema", 18},
		{ServerError_ConsumerAssignError, "ConsumerAssignError", 19},
		{ServerError_NotAllowedError, "NotAllowedError", 22},
		{ServerError_ProducerFenced, "ProducerFenced", 25},
		{CompressionType_LZ4, "LZ4", 1},
		{CompressionType_SNAPPY, "SNAPPY", 4},
		{CommandSubscribe_Key_Shared, "Key_Shared", 3},
		{CommandSubscribe_Earliest, "Earliest", 1},
		{CommandLookupTopicResponse_Connect, "Connect", 1},
		{CommandLookupTopicResponse_Failed, "Failed", 2},
		{CommandAck_Cumulative, "Cumulative", 1},
		{CommandAck_ChecksumMismatch, "ChecksumMismatch", 2},
		{KeySharedMode_STICKY, "STICKY", 1},
		{ProducerAccessMode_ExclusiveWithFencing, "ExclusiveWithFencing", 3},
		{ProtocolVersion_v20, "v20", 20},
		{Schema_ProtobufNative, "ProtobufNative", 20},
		{BaseCommand_ACK_RESPONSE, "ACK_RESPONSE", 38},
		{BaseCommand_TOPIC_MIGRATED, "TOPIC_MIGRATED", 68},
	}
	for _, tt := range tests {
		v := tt.got.Descriptor().Values().ByNumber(tt.got.Number())
		if v == nil || string(v.Name()) != tt.name || tt.got.Number() != tt.num {
			t.Errorf("%s: got %v = %d", tt.name, v.Name(), tt.got.Number())
		}
	}
}
