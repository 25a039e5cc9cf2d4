package queuecheck

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
)

// ID names one send attempt: the producer's id and the attempt's sequence number.
// A producer never reuses a sequence number, not even to retry: a retry is a new ID.
type ID struct {
	Producer string
	Seq      uint64
}

func (id ID) String() string { return id.Producer + "#" + strconv.FormatUint(id.Seq, 10) }

// payloadMagic starts every payload; its version digit changes if the layout does.
const payloadMagic = "qc1 "

// Payload is the message body sent under id: "qc1 <producer> <seq> " followed by
// pseudo-random lowercase letters from rng up to size bytes (a payload is never
// shorter than its header). The producer id must be non-empty and without spaces.
func Payload(id ID, size int, rng *rand.Rand) []byte {
	head := fmt.Sprintf("%s%s %d ", payloadMagic, id.Producer, id.Seq)
	p := make([]byte, max(size, len(head)))
	n := copy(p, head)
	for i := n; i < len(p); i++ {
		p[i] = 'a' + byte(rng.IntN(26))
	}
	return p
}

// ParsePayload returns the ID a payload was sent under; ok is false for bytes no
// Payload call made.
func ParsePayload(p []byte) (id ID, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte(payloadMagic))
	if !found {
		return ID{}, false
	}
	producer, rest, found := bytes.Cut(rest, []byte(" "))
	if !found || len(producer) == 0 {
		return ID{}, false
	}
	seq, _, found := bytes.Cut(rest, []byte(" "))
	if !found {
		return ID{}, false
	}
	n, err := strconv.ParseUint(string(seq), 10, 64)
	if err != nil {
		return ID{}, false
	}
	return ID{Producer: string(producer), Seq: n}, true
}

// validProducer reports whether name can be a producer id in a payload.
func validProducer(name string) bool {
	return name != "" && !strings.ContainsAny(name, " \t\n")
}

// checksum identifies a payload's bytes, so a delivery can be compared with its
// attempt without keeping every payload.
func checksum(p []byte) uint64 {
	h := fnv.New64a()
	h.Write(p)
	return h.Sum64()
}
