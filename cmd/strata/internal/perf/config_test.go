package perf

import "testing"

func TestTopicName(t *testing.T) {
	one := ProduceConfig{Topic: "t"}
	many := ProduceConfig{Topic: "t", Topics: 1000}
	if got := one.TopicName(0); got != "t" {
		t.Errorf("one topic: %q, want t", got)
	}
	if got := many.TopicName(999); got != "t-999" {
		t.Errorf("many topics: %q, want t-999", got)
	}
}

func TestIdleValidate(t *testing.T) {
	c := IdleConfig{Common: Common{URL: "pulsar://x"}, Topic: "idle", Topics: 10, Subscription: "s"}
	if err := c.Validate(); err != nil || c.Concurrency != 32 || c.ReceiverQueue != 100 {
		t.Fatalf("Validate = %v; concurrency %d, queue %d", err, c.Concurrency, c.ReceiverQueue)
	}
	for _, bad := range []IdleConfig{
		{Common: Common{URL: "pulsar://x"}, Topics: 10, Subscription: "s"},
		{Common: Common{URL: "pulsar://x"}, Topic: "idle", Subscription: "s"},
		{Common: Common{URL: "pulsar://x"}, Topic: "idle", Topics: 10},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", bad)
		}
	}
}
