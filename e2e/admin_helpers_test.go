package e2e

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsaradmin"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/rest"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
)

func newAdmin(t *testing.T, httpURL string) pulsaradmin.Client {
	t.Helper()
	adm, err := pulsaradmin.NewClient(&pulsaradmin.Config{WebServiceURL: httpURL})
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	return adm
}

// adminStatus is the HTTP status of a pulsaradmin error (0 when it is not one).
func adminStatus(err error) int {
	var re rest.Error
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}

func adminTopicName(t *testing.T, full string) utils.TopicName {
	t.Helper()
	tn, err := utils.GetTopicName(full)
	if err != nil {
		t.Fatal(err)
	}
	return *tn
}

// adminEventually polls cond (an external process's state: there is no event to wait
// on) until it holds or the deadline passes.
func adminEventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 20s; last: %s", what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rawAdmin sends a raw request with a JSON body and returns the status and body.
func rawAdmin(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	return rawAdminAs(t, method, url, "application/json", body)
}

// rawAdminAs is rawAdmin with the body's content type.
func rawAdminAs(t *testing.T, method, url, contentType, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// createPartitioned creates a partitioned topic of n partitions through the admin REST
// API, with the bare-integer body pulsar-client-go's tests send.
func createPartitioned(t *testing.T, httpURL, topic string, n int) {
	t.Helper()
	path := strings.TrimPrefix(topic, "persistent://")
	code, body := rawAdmin(t, http.MethodPut, httpURL+"/admin/v2/persistent/"+path+"/partitions", fmt.Sprint(n))
	if code/100 != 2 {
		t.Fatalf("create partitioned topic %s: HTTP %d %s", topic, code, body)
	}
}
