package wire

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/proto/pulsar"
)

// TestConstructors marshals every constructor's command with proto.Marshal, which fails
// on any unset proto2 required field (as the client's decoder would), round-trips it
// through the codec, and checks the optional fields the client depends on.
func TestConstructors(t *testing.T) {
	schema := &pulsar.Schema{
		Name:       proto.String("s"),
		SchemaData: []byte("{}"),
		Type:       pulsar.Schema_Json.Enum(),
	}
	version := []byte{0, 0, 0, 0, 0, 0, 0, 1}
	tests := []struct {
		name  string
		cmd   *pulsar.BaseCommand
		typ   pulsar.BaseCommand_Type
		check func(t *testing.T, c *pulsar.BaseCommand)
	}{
		{"Connected", NewConnected("Strata", 20, 1<<20), pulsar.BaseCommand_CONNECTED, func(t *testing.T, c *pulsar.BaseCommand) {
			if c.GetConnected().GetMaxMessageSize() != 1<<20 {
				t.Error("max_message_size not set")
			}
		}},
		{"Connected without max size", NewConnected("Strata", 20, 0), pulsar.BaseCommand_CONNECTED, func(t *testing.T, c *pulsar.BaseCommand) {
			if c.GetConnected().MaxMessageSize != nil {
				t.Error("max_message_size set")
			}
		}},
		{"Connect", NewConnect("Strata-replicator", 20), pulsar.BaseCommand_CONNECT, nil},
		{"AuthChallenge", NewAuthChallenge("Strata", 20, "token", []byte("x")), pulsar.BaseCommand_AUTH_CHALLENGE, nil},
		{"Ping", NewPing(), pulsar.BaseCommand_PING, nil},
		{"Pong", NewPong(), pulsar.BaseCommand_PONG, nil},
		{"Success", NewSuccess(7), pulsar.BaseCommand_SUCCESS, nil},
		{"Error", NewError(7, pulsar.ServerError_ConsumerBusy, "busy"), pulsar.BaseCommand_ERROR, nil},
		{"PartitionedMetadataResponse", NewPartitionedMetadataResponse(7, 0), pulsar.BaseCommand_PARTITIONED_METADATA_RESPONSE, func(t *testing.T, c *pulsar.BaseCommand) {
			r := c.GetPartitionMetadataResponse()
			if r.Partitions == nil || r.Error != nil {
				t.Errorf("response = %v; partitions must be present even when 0", r)
			}
		}},
		{"PartitionedMetadataError", NewPartitionedMetadataError(7, pulsar.ServerError_ServiceNotReady, "later"), pulsar.BaseCommand_PARTITIONED_METADATA_RESPONSE, func(t *testing.T, c *pulsar.BaseCommand) {
			if c.GetPartitionMetadataResponse().Error == nil {
				t.Error("error not set")
			}
		}},
		{"LookupConnect", NewLookupConnect(7, "pulsar://b:6650", "", true), pulsar.BaseCommand_LOOKUP_RESPONSE, func(t *testing.T, c *pulsar.BaseCommand) {
			r := c.GetLookupTopicResponse()
			if r.Response == nil || r.GetResponse() != pulsar.CommandLookupTopicResponse_Connect || r.BrokerServiceUrlTls != nil {
				t.Errorf("response = %v", r)
			}
		}},
		{"LookupRedirect", NewLookupRedirect(7, "pulsar://b:6650", "pulsar+ssl://b:6651", false), pulsar.BaseCommand_LOOKUP_RESPONSE, func(t *testing.T, c *pulsar.BaseCommand) {
			if c.GetLookupTopicResponse().GetResponse() != pulsar.CommandLookupTopicResponse_Redirect {
				t.Error("not a redirect")
			}
		}},
		{"LookupFailed", NewLookupFailed(7, pulsar.ServerError_TopicNotFound, "no"), pulsar.BaseCommand_LOOKUP_RESPONSE, func(t *testing.T, c *pulsar.BaseCommand) {
			r := c.GetLookupTopicResponse()
			if r.Response == nil || r.GetResponse() != pulsar.CommandLookupTopicResponse_Failed || r.Error == nil {
				t.Errorf("response = %v", r)
			}
		}},
		{"ProducerSuccess", NewProducerSuccess(7, "standalone-0-1", -1, nil), pulsar.BaseCommand_PRODUCER_SUCCESS, func(t *testing.T, c *pulsar.BaseCommand) {
			if c.GetProducerSuccess().LastSequenceId == nil {
				t.Error("last_sequence_id not set")
			}
		}},
		{"SendReceipt", NewSendReceipt(1, 2, 3, 4), pulsar.BaseCommand_SEND_RECEIPT, func(t *testing.T, c *pulsar.BaseCommand) {
			if c.GetSendReceipt().MessageId == nil {
				t.Error("message_id not set")
			}
		}},
		{"SendError", NewSendError(1, 2, pulsar.ServerError_ChecksumError, "bad crc"), pulsar.BaseCommand_SEND_ERROR, nil},
		{"CloseProducer", NewCloseProducer(1, 2, "", ""), pulsar.BaseCommand_CLOSE_PRODUCER, func(t *testing.T, c *pulsar.BaseCommand) {
			if c.GetCloseProducer().AssignedBrokerServiceUrl != nil {
				t.Error("empty assigned URL sent")
			}
		}},
		{"CloseConsumer", NewCloseConsumer(1, 2, "pulsar://b:6650", ""), pulsar.BaseCommand_CLOSE_CONSUMER, nil},
		{"Message", NewMessage(1, 2, 3, 4, []int64{5}), pulsar.BaseCommand_MESSAGE, func(t *testing.T, c *pulsar.BaseCommand) {
			if c.GetMessage().RedeliveryCount == nil {
				t.Error("redelivery_count not set")
			}
		}},
		{"ActiveConsumerChange", NewActiveConsumerChange(1, true), pulsar.BaseCommand_ACTIVE_CONSUMER_CHANGE, nil},
		{"AckResponse", NewAckResponse(1, 2), pulsar.BaseCommand_ACK_RESPONSE, func(t *testing.T, c *pulsar.BaseCommand) {
			if c.GetAckResponse().Message != nil {
				t.Error("a successful ack response carries a message")
			}
		}},
		{"AckResponseError", NewAckResponseError(1, 2, pulsar.ServerError_UnknownError, "failed"), pulsar.BaseCommand_ACK_RESPONSE, nil},
		{"GetLastMessageIDResponse", NewGetLastMessageIDResponse(1, MessageID(3, 4), MessageID(3, 2)), pulsar.BaseCommand_GET_LAST_MESSAGE_ID_RESPONSE, nil},
		{"GetLastMessageIDResponse empty", NewGetLastMessageIDResponse(1, nil, nil), pulsar.BaseCommand_GET_LAST_MESSAGE_ID_RESPONSE, func(t *testing.T, c *pulsar.BaseCommand) {
			id := c.GetGetLastMessageIdResponse().GetLastMessageId()
			if int64(id.GetLedgerId()) != -1 || int64(id.GetEntryId()) != -1 {
				t.Errorf("last id = %v, want (-1, -1)", id)
			}
		}},
		{"GetTopicsOfNamespaceResponse", NewGetTopicsOfNamespaceResponse(1, []string{"persistent://public/default/a"}), pulsar.BaseCommand_GET_TOPICS_OF_NAMESPACE_RESPONSE, nil},
		{"GetTopicsOfNamespaceResponse empty", NewGetTopicsOfNamespaceResponse(1, nil), pulsar.BaseCommand_GET_TOPICS_OF_NAMESPACE_RESPONSE, nil},
		{"GetSchemaResponse", NewGetSchemaResponse(1, schema, version), pulsar.BaseCommand_GET_SCHEMA_RESPONSE, nil},
		{"GetSchemaError no schema", NewGetSchemaError(1, pulsar.ServerError_TopicNotFound, SchemaNotFoundMessage), pulsar.BaseCommand_GET_SCHEMA_RESPONSE, func(t *testing.T, c *pulsar.BaseCommand) {
			if c.GetGetSchemaResponse().Schema != nil {
				t.Error("schema present")
			}
		}},
		{"GetOrCreateSchemaResponse", NewGetOrCreateSchemaResponse(1, version), pulsar.BaseCommand_GET_OR_CREATE_SCHEMA_RESPONSE, nil},
		{"GetOrCreateSchemaError", NewGetOrCreateSchemaError(1, pulsar.ServerError_IncompatibleSchema, "no"), pulsar.BaseCommand_GET_OR_CREATE_SCHEMA_RESPONSE, func(t *testing.T, c *pulsar.BaseCommand) {
			r := c.GetGetOrCreateSchemaResponse()
			if r.ErrorCode == nil || r.ErrorMessage == nil {
				t.Error("error_code and error_message must both be set")
			}
		}},
		{"ConsumerStatsResponse", NewConsumerStatsResponse(1), pulsar.BaseCommand_CONSUMER_STATS_RESPONSE, nil},
		{"ConsumerStatsError", NewConsumerStatsError(1, pulsar.ServerError_ConsumerNotFound, "no"), pulsar.BaseCommand_CONSUMER_STATS_RESPONSE, nil},
		{"ReachedEndOfTopic", NewReachedEndOfTopic(1), pulsar.BaseCommand_REACHED_END_OF_TOPIC, nil},
		{"Send", NewSend(1, 2, 3), pulsar.BaseCommand_SEND, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cmd.GetType(); got != tt.typ {
				t.Fatalf("type = %s, want %s", got, tt.typ)
			}
			b, err := proto.Marshal(tt.cmd)
			if err != nil {
				t.Fatalf("proto.Marshal: %v", err)
			}
			var decoded pulsar.BaseCommand
			if err := proto.Unmarshal(b, &decoded); err != nil {
				t.Fatalf("proto.Unmarshal: %v", err)
			}

			var frame []byte
			if CarriesPayload(tt.typ) {
				frame, err = AppendPayloadFrame(nil, tt.cmd, nil, entryOf(t, testMetadata(), []byte("x"), true))
			} else {
				frame, err = AppendFrame(nil, tt.cmd)
			}
			if err != nil {
				t.Fatal(err)
			}
			f := readOne(t, frame)
			if !proto.Equal(f.Command, tt.cmd) {
				t.Errorf("round trip changed the command:\n got %v\nwant %v", f.Command, tt.cmd)
			}
			if tt.check != nil {
				tt.check(t, f.Command)
			}
		})
	}
}

func TestMessageID(t *testing.T) {
	b, err := proto.Marshal(MessageID(-1, -1))
	if err != nil {
		t.Fatal(err)
	}
	// Two ten-byte varints of 2^64-1.
	minusOne := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	want := append(append([]byte{0x08}, minusOne...), append([]byte{0x10}, minusOne...)...)
	if !bytes.Equal(b, want) {
		t.Errorf("MessageID(-1, -1) = %x, want %x", b, want)
	}
}

func TestRequestID(t *testing.T) {
	tests := []struct {
		name   string
		cmd    *pulsar.BaseCommand
		want   uint64
		wantOK bool
	}{
		{"success", NewSuccess(11), 11, true},
		{"lookup response", NewLookupFailed(12, pulsar.ServerError_TopicNotFound, "x"), 12, true},
		{"ack response", NewAckResponse(1, 13), 13, true},
		{"ack response without request id", &pulsar.BaseCommand{
			Type:        pulsar.BaseCommand_ACK_RESPONSE.Enum(),
			AckResponse: &pulsar.CommandAckResponse{ConsumerId: proto.Uint64(1)},
		}, 0, false},
		{"ping has none", NewPing(), 0, false},
		{"message has none", NewMessage(1, 2, 3, 0, nil), 0, false},
		{"undeclared body", &pulsar.BaseCommand{Type: pulsar.BaseCommand_NEW_TXN.Enum()}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := RequestID(tt.cmd)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("RequestID = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
