package e2e

import (
	"io"

	"github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/sirupsen/logrus"
)

// quietLogger keeps the client's logs out of test output unless something fails.
func quietLogger() log.Logger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return log.NewLoggerWithLogrus(l)
}
