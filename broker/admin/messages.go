package admin

import (
	"bytes"
	"compress/zlib"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/strata-io/strata/broker/managedledger"
	"github.com/strata-io/strata/broker/wire"
	pb "github.com/strata-io/strata/proto/pulsar"
)

// Peek and get-by-id answer with one stored entry as Pulsar does and as pulsaradmin's
// Subscriptions().PeekMessages / GetMessagesByID read it: the body is the entry's
// payload after its metadata, decompressed (still in batch format when batched), and
// the metadata travels in X-Pulsar-* headers.

func (a *API) peek(w http.ResponseWriter, r *http.Request) {
	n, err := pathInt(r, "n")
	if !handle(w, err) {
		return
	}
	if n < 1 || n > 1<<31 {
		writeReason(w, http.StatusPreconditionFailed, fmt.Sprintf("message position %d out of range (1-based)", n))
		return
	}
	t, sub, err := a.subscriptionOf(r)
	if !handle(w, err) {
		return
	}
	e, err := t.PeekEntry(r.Context(), sub, int(n))
	if handle(w, err) {
		writeEntry(w, e)
	}
}

func (a *API) getMessageByID(w http.ResponseWriter, r *http.Request) {
	l, err := pathInt(r, "ledger")
	if !handle(w, err) {
		return
	}
	e, err := pathInt(r, "entry")
	if !handle(w, err) {
		return
	}
	t, err := a.existingTopic(r)
	if !handle(w, err) {
		return
	}
	ent, err := t.Entry(r.Context(), managedledger.Position{Ledger: l, Entry: e})
	if handle(w, err) {
		writeEntry(w, ent)
	}
}

// maxUncompressed bounds what a decompression may produce (Pulsar's 5 MB message
// limit, with room).
const maxUncompressed = 64 << 20

func writeEntry(w http.ResponseWriter, e managedledger.Entry) {
	p, err := wire.ParsePayload(e.Data)
	if err != nil || p.Metadata == nil {
		writeReason(w, http.StatusInternalServerError, fmt.Sprintf("entry %s is unreadable: %v", e.Pos, err))
		return
	}
	md := p.Metadata
	body, err := decompress(md, p.Data)
	if err != nil {
		writeReason(w, http.StatusInternalServerError, fmt.Sprintf("entry %s: %v", e.Pos, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Pulsar-Message-ID", e.Pos.String())
	h.Set("X-Pulsar-Publish-Time", time.UnixMilli(int64(md.GetPublishTime())).UTC().Format("2006-01-02T15:04:05.000Z"))
	h.Set("X-Pulsar-Producer-Name", md.GetProducerName())
	h.Set("X-Pulsar-Sequence-Id", strconv.FormatUint(md.GetSequenceId(), 10))
	if md.PartitionKey != nil {
		h.Set("X-Pulsar-Key", md.GetPartitionKey())
	}
	if md.NumMessagesInBatch != nil {
		h.Set("X-Pulsar-Num-Batch-Message", strconv.Itoa(int(md.GetNumMessagesInBatch())))
	}
	if props := md.GetProperties(); len(props) > 0 {
		m := make(map[string]string, len(props))
		for _, kv := range props {
			m[kv.GetKey()] = kv.GetValue()
		}
		b, _ := json.Marshal(m)
		h.Set("X-Pulsar-Property", string(b))
	}
	w.Write(body)
}

func decompress(md *pb.MessageMetadata, data []byte) ([]byte, error) {
	size := int(md.GetUncompressedSize())
	if size > maxUncompressed {
		return nil, fmt.Errorf("uncompressed size %d too large", size)
	}
	switch md.GetCompression() {
	case pb.CompressionType_NONE:
		return data, nil
	case pb.CompressionType_ZLIB:
		zr, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		return io.ReadAll(io.LimitReader(zr, maxUncompressed))
	case pb.CompressionType_ZSTD:
		d, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxUncompressed))
		if err != nil {
			return nil, err
		}
		defer d.Close()
		return d.DecodeAll(data, nil)
	case pb.CompressionType_SNAPPY:
		return snappy.Decode(nil, data)
	case pb.CompressionType_LZ4:
		out := make([]byte, size)
		n, err := lz4.UncompressBlock(data, out)
		if err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		return out[:n], nil
	}
	return nil, fmt.Errorf("unknown compression %v", md.GetCompression())
}
