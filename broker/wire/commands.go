package wire

import (
	"google.golang.org/protobuf/proto"

	"github.com/strata-io/strata/proto/pulsar"
)

// Constructors for the commands a broker sends. Each returns a BaseCommand with its type,
// its body and every proto2 required field of that body set, plus the optional fields
// pulsar-client-go v0.19.0 depends on (docs/format/pulsar-frames.md lists them).
// Further optional fields can be set on the returned body before encoding.

// MessageID returns a MessageIdData for (ledgerID, entryID). Negative values travel as
// their two's complement, as clients expect: (-1, -1) is "no message".
func MessageID(ledgerID, entryID int64) *pulsar.MessageIdData {
	return &pulsar.MessageIdData{
		LedgerId: proto.Uint64(uint64(ledgerID)),
		EntryId:  proto.Uint64(uint64(entryID)),
	}
}

func base(t pulsar.BaseCommand_Type) *pulsar.BaseCommand {
	return &pulsar.BaseCommand{Type: t.Enum()}
}

// optString returns nil for "" so that empty optional strings stay absent.
func optString(s string) *string {
	if s == "" {
		return nil
	}
	return proto.String(s)
}

// NewConnected answers CONNECT; it must be the first frame the broker sends.
// maxMessageSize is the largest metadata+payload the broker accepts (0 leaves it out,
// and the client assumes DefaultMaxMessageSize).
func NewConnected(serverVersion string, protocolVersion, maxMessageSize int32) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_CONNECTED)
	c.Connected = &pulsar.CommandConnected{
		ServerVersion:   proto.String(serverVersion),
		ProtocolVersion: proto.Int32(protocolVersion),
	}
	if maxMessageSize > 0 {
		c.Connected.MaxMessageSize = proto.Int32(maxMessageSize)
	}
	return c
}

// NewConnect is the client's handshake, for when the broker is the client (replication).
func NewConnect(clientVersion string, protocolVersion int32) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_CONNECT)
	c.Connect = &pulsar.CommandConnect{
		ClientVersion:   proto.String(clientVersion),
		ProtocolVersion: proto.Int32(protocolVersion),
	}
	return c
}

// NewAuthChallenge asks the client to (re)authenticate with the given method and data.
func NewAuthChallenge(serverVersion string, protocolVersion int32, authMethod string, challenge []byte) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_AUTH_CHALLENGE)
	c.AuthChallenge = &pulsar.CommandAuthChallenge{
		ServerVersion:   proto.String(serverVersion),
		ProtocolVersion: proto.Int32(protocolVersion),
		Challenge: &pulsar.AuthData{
			AuthMethodName: proto.String(authMethod),
			AuthData:       challenge,
		},
	}
	return c
}

// NewPing is a keep-alive probe; the peer answers PONG.
func NewPing() *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_PING)
	c.Ping = &pulsar.CommandPing{}
	return c
}

// NewPong answers PING.
func NewPong() *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_PONG)
	c.Pong = &pulsar.CommandPong{}
	return c
}

// NewSuccess completes a request that has no richer response (SUBSCRIBE, UNSUBSCRIBE,
// CLOSE_PRODUCER, CLOSE_CONSUMER, SEEK, an ACK with request_id).
func NewSuccess(requestID uint64) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_SUCCESS)
	c.Success = &pulsar.CommandSuccess{RequestId: proto.Uint64(requestID)}
	return c
}

// NewError fails a request. The client reports "server error: <code name>: <message>"
// and its retry logic matches on the code's name.
func NewError(requestID uint64, code pulsar.ServerError, message string) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_ERROR)
	c.Error = &pulsar.CommandError{
		RequestId: proto.Uint64(requestID),
		Error:     code.Enum(),
		Message:   proto.String(message),
	}
	return c
}

// NewPartitionedMetadataResponse reports a topic's partition count (0: not partitioned).
func NewPartitionedMetadataResponse(requestID uint64, partitions uint32) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_PARTITIONED_METADATA_RESPONSE)
	c.PartitionMetadataResponse = &pulsar.CommandPartitionedTopicMetadataResponse{
		RequestId:  proto.Uint64(requestID),
		Partitions: proto.Uint32(partitions),
		Response:   pulsar.CommandPartitionedTopicMetadataResponse_Success.Enum(),
	}
	return c
}

// NewPartitionedMetadataError fails PARTITIONED_METADATA without retry on the client.
// ServiceNotReady also makes the client close the connection.
func NewPartitionedMetadataError(requestID uint64, code pulsar.ServerError, message string) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_PARTITIONED_METADATA_RESPONSE)
	c.PartitionMetadataResponse = &pulsar.CommandPartitionedTopicMetadataResponse{
		RequestId: proto.Uint64(requestID),
		Response:  pulsar.CommandPartitionedTopicMetadataResponse_Failed.Enum(),
		Error:     code.Enum(),
		Message:   proto.String(message),
	}
	return c
}

// NewLookupConnect tells the client to use the broker at brokerURL (a pulsar:// URL;
// brokerURLTLS may be ""), which owns the topic.
func NewLookupConnect(requestID uint64, brokerURL, brokerURLTLS string, authoritative bool) *pulsar.BaseCommand {
	return newLookup(requestID, pulsar.CommandLookupTopicResponse_Connect, brokerURL, brokerURLTLS, authoritative)
}

// NewLookupRedirect tells the client to repeat the lookup at brokerURL.
func NewLookupRedirect(requestID uint64, brokerURL, brokerURLTLS string, authoritative bool) *pulsar.BaseCommand {
	return newLookup(requestID, pulsar.CommandLookupTopicResponse_Redirect, brokerURL, brokerURLTLS, authoritative)
}

func newLookup(requestID uint64, kind pulsar.CommandLookupTopicResponse_LookupType, url, urlTLS string, authoritative bool) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_LOOKUP_RESPONSE)
	c.LookupTopicResponse = &pulsar.CommandLookupTopicResponse{
		RequestId:           proto.Uint64(requestID),
		Response:            kind.Enum(),
		BrokerServiceUrl:    proto.String(url),
		BrokerServiceUrlTls: optString(urlTLS),
		Authoritative:       proto.Bool(authoritative),
	}
	return c
}

// NewLookupFailed fails LOOKUP without retry on the client.
func NewLookupFailed(requestID uint64, code pulsar.ServerError, message string) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_LOOKUP_RESPONSE)
	c.LookupTopicResponse = &pulsar.CommandLookupTopicResponse{
		RequestId: proto.Uint64(requestID),
		Response:  pulsar.CommandLookupTopicResponse_Failed.Enum(),
		Error:     code.Enum(),
		Message:   proto.String(message),
	}
	return c
}

// NewProducerSuccess completes PRODUCER. producerName is the one the client asked for
// or one the broker generated; lastSequenceID is -1 for a producer with no history;
// schemaVersion may be nil.
func NewProducerSuccess(requestID uint64, producerName string, lastSequenceID int64, schemaVersion []byte) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_PRODUCER_SUCCESS)
	c.ProducerSuccess = &pulsar.CommandProducerSuccess{
		RequestId:      proto.Uint64(requestID),
		ProducerName:   proto.String(producerName),
		LastSequenceId: proto.Int64(lastSequenceID),
		SchemaVersion:  schemaVersion,
	}
	return c
}

// NewSendReceipt acknowledges the SEND (producerID, sequenceID), persisted as entry
// (ledgerID, entryID). Receipts must go out in send order per producer.
func NewSendReceipt(producerID, sequenceID uint64, ledgerID, entryID int64) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_SEND_RECEIPT)
	c.SendReceipt = &pulsar.CommandSendReceipt{
		ProducerId: proto.Uint64(producerID),
		SequenceId: proto.Uint64(sequenceID),
		MessageId:  MessageID(ledgerID, entryID),
	}
	return c
}

// NewSendError fails one SEND. Any code other than NotAllowedError and
// TopicTerminatedError makes pulsar-client-go close the whole connection and resend.
func NewSendError(producerID, sequenceID uint64, code pulsar.ServerError, message string) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_SEND_ERROR)
	c.SendError = &pulsar.CommandSendError{
		ProducerId: proto.Uint64(producerID),
		SequenceId: proto.Uint64(sequenceID),
		Error:      code.Enum(),
		Message:    proto.String(message),
	}
	return c
}

// NewSend is the command part of a SEND frame, for when the broker is the producer
// (replication). numMessages is the batch size, or 0 to leave it out (unbatched).
func NewSend(producerID, sequenceID uint64, numMessages int32) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_SEND)
	c.Send = &pulsar.CommandSend{
		ProducerId: proto.Uint64(producerID),
		SequenceId: proto.Uint64(sequenceID),
	}
	if numMessages > 0 {
		c.Send.NumMessages = proto.Int32(numMessages)
	}
	return c
}

// NewCloseProducer detaches a producer from the broker's side; the client reconnects,
// directly to assignedURL (and assignedURLTLS) when given, else through a lookup.
// requestID is required by the protocol but not matched by the client.
func NewCloseProducer(producerID, requestID uint64, assignedURL, assignedURLTLS string) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_CLOSE_PRODUCER)
	c.CloseProducer = &pulsar.CommandCloseProducer{
		ProducerId:                  proto.Uint64(producerID),
		RequestId:                   proto.Uint64(requestID),
		AssignedBrokerServiceUrl:    optString(assignedURL),
		AssignedBrokerServiceUrlTls: optString(assignedURLTLS),
	}
	return c
}

// NewCloseConsumer detaches a consumer from the broker's side (unload, ownership
// change, and always after a SEEK); the client re-subscribes.
func NewCloseConsumer(consumerID, requestID uint64, assignedURL, assignedURLTLS string) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_CLOSE_CONSUMER)
	c.CloseConsumer = &pulsar.CommandCloseConsumer{
		ConsumerId:                  proto.Uint64(consumerID),
		RequestId:                   proto.Uint64(requestID),
		AssignedBrokerServiceUrl:    optString(assignedURL),
		AssignedBrokerServiceUrlTls: optString(assignedURLTLS),
	}
	return c
}

// NewMessage is the command part of a MESSAGE frame delivering entry (ledgerID, entryID)
// to a consumer. redeliveryCount drives the client's dead-letter policy; ackSet (nil:
// none) has a set bit for each message of the batch still unacknowledged.
func NewMessage(consumerID uint64, ledgerID, entryID int64, redeliveryCount uint32, ackSet []int64) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_MESSAGE)
	c.Message = &pulsar.CommandMessage{
		ConsumerId:      proto.Uint64(consumerID),
		MessageId:       MessageID(ledgerID, entryID),
		RedeliveryCount: proto.Uint32(redeliveryCount),
		AckSet:          ackSet,
	}
	return c
}

// NewActiveConsumerChange tells a Failover consumer whether it is now the active one.
func NewActiveConsumerChange(consumerID uint64, isActive bool) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_ACTIVE_CONSUMER_CHANGE)
	c.ActiveConsumerChange = &pulsar.CommandActiveConsumerChange{
		ConsumerId: proto.Uint64(consumerID),
		IsActive:   proto.Bool(isActive),
	}
	return c
}

// NewAckResponse confirms an ACK that carried a request_id.
func NewAckResponse(consumerID, requestID uint64) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_ACK_RESPONSE)
	c.AckResponse = &pulsar.CommandAckResponse{
		ConsumerId: proto.Uint64(consumerID),
		RequestId:  proto.Uint64(requestID),
	}
	return c
}

// NewAckResponseError fails an ACK that carried a request_id; the client treats any
// non-empty message as failure, so message must not be "".
func NewAckResponseError(consumerID, requestID uint64, code pulsar.ServerError, message string) *pulsar.BaseCommand {
	c := NewAckResponse(consumerID, requestID)
	c.AckResponse.Error = code.Enum()
	c.AckResponse.Message = proto.String(message)
	return c
}

// NewGetLastMessageIDResponse answers GET_LAST_MESSAGE_ID. last is the topic's last
// entry with batch_index set to num_messages_in_batch-1 when the entry is a batch; nil
// means an empty topic and is sent as (-1, -1). markDelete may be nil.
func NewGetLastMessageIDResponse(requestID uint64, last, markDelete *pulsar.MessageIdData) *pulsar.BaseCommand {
	if last == nil {
		last = MessageID(-1, -1)
	}
	c := base(pulsar.BaseCommand_GET_LAST_MESSAGE_ID_RESPONSE)
	c.GetLastMessageIdResponse = &pulsar.CommandGetLastMessageIdResponse{
		RequestId:                  proto.Uint64(requestID),
		LastMessageId:              last,
		ConsumerMarkDeletePosition: markDelete,
	}
	return c
}

// NewGetTopicsOfNamespaceResponse lists a namespace's topics by full name. A namespace
// that does not exist is answered with an empty list, not an error.
func NewGetTopicsOfNamespaceResponse(requestID uint64, topics []string) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_GET_TOPICS_OF_NAMESPACE_RESPONSE)
	c.GetTopicsOfNamespaceResponse = &pulsar.CommandGetTopicsOfNamespaceResponse{
		RequestId: proto.Uint64(requestID),
		Topics:    topics,
	}
	return c
}

// NewGetSchemaResponse returns a topic's schema at a version.
func NewGetSchemaResponse(requestID uint64, schema *pulsar.Schema, version []byte) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_GET_SCHEMA_RESPONSE)
	c.GetSchemaResponse = &pulsar.CommandGetSchemaResponse{
		RequestId:     proto.Uint64(requestID),
		Schema:        schema,
		SchemaVersion: version,
	}
	return c
}

// SchemaNotFoundMessage is the error_message Pulsar sends with TopicNotFound when a
// topic has no schema (at the requested version).
const SchemaNotFoundMessage = "Topic not found or no-schema"

// NewGetSchemaError fails GET_SCHEMA. A topic without a schema is
// (TopicNotFound, SchemaNotFoundMessage), as Pulsar answers; the Go client only looks
// at whether a schema is present.
func NewGetSchemaError(requestID uint64, code pulsar.ServerError, message string) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_GET_SCHEMA_RESPONSE)
	c.GetSchemaResponse = &pulsar.CommandGetSchemaResponse{
		RequestId:    proto.Uint64(requestID),
		ErrorCode:    code.Enum(),
		ErrorMessage: proto.String(message),
	}
	return c
}

// NewGetOrCreateSchemaResponse returns the version under which a producer's schema is
// (now) registered.
func NewGetOrCreateSchemaResponse(requestID uint64, version []byte) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_GET_OR_CREATE_SCHEMA_RESPONSE)
	c.GetOrCreateSchemaResponse = &pulsar.CommandGetOrCreateSchemaResponse{
		RequestId:     proto.Uint64(requestID),
		SchemaVersion: version,
	}
	return c
}

// NewGetOrCreateSchemaError fails GET_OR_CREATE_SCHEMA (e.g. IncompatibleSchema). Both
// code and message are sent: the Go client reads the message whenever a code is set.
func NewGetOrCreateSchemaError(requestID uint64, code pulsar.ServerError, message string) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_GET_OR_CREATE_SCHEMA_RESPONSE)
	c.GetOrCreateSchemaResponse = &pulsar.CommandGetOrCreateSchemaResponse{
		RequestId:    proto.Uint64(requestID),
		ErrorCode:    code.Enum(),
		ErrorMessage: proto.String(message),
	}
	return c
}

// NewConsumerStatsResponse answers CONSUMER_STATS; the caller fills in the statistics
// on the returned body.
func NewConsumerStatsResponse(requestID uint64) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_CONSUMER_STATS_RESPONSE)
	c.ConsumerStatsResponse = &pulsar.CommandConsumerStatsResponse{
		RequestId: proto.Uint64(requestID),
	}
	return c
}

// NewConsumerStatsError fails CONSUMER_STATS.
func NewConsumerStatsError(requestID uint64, code pulsar.ServerError, message string) *pulsar.BaseCommand {
	c := NewConsumerStatsResponse(requestID)
	c.ConsumerStatsResponse.ErrorCode = code.Enum()
	c.ConsumerStatsResponse.ErrorMessage = proto.String(message)
	return c
}

// NewReachedEndOfTopic tells a consumer its topic is terminated and fully consumed.
//
// Do not send it to pulsar-client-go (CONNECT client_version "Pulsar-Go-..."): v0.19.0
// does not handle it, closes the connection and reconnects forever. It exists for
// clients that do (the Java client).
func NewReachedEndOfTopic(consumerID uint64) *pulsar.BaseCommand {
	c := base(pulsar.BaseCommand_REACHED_END_OF_TOPIC)
	c.ReachedEndOfTopic = &pulsar.CommandReachedEndOfTopic{ConsumerId: proto.Uint64(consumerID)}
	return c
}
