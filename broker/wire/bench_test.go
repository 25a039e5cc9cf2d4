package wire

import (
	"bytes"
	"testing"
)

func BenchmarkReadFrameSend(b *testing.B) {
	frame := rawFrame(sendCmd(b), entryOf(b, testMetadata(), make([]byte, 1024), true))
	stream := bytes.Repeat(frame, 1000)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	var r *Reader
	for i := range b.N {
		if i%1000 == 0 {
			r = NewReader(bytes.NewReader(stream), 0)
		}
		if _, err := r.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMessage(b *testing.B) {
	entry := entryOf(b, testMetadata(), make([]byte, 1024), true)
	cmd := NewMessage(1, 2, 3, 0, nil)
	buf := make([]byte, 0, 64<<10)
	b.SetBytes(int64(len(entry)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := AppendPayloadFrame(buf[:0], cmd, nil, entry)
		if err != nil {
			b.Fatal(err)
		}
		buf = out
	}
}
