package queue_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jplan/jplan/checker"
	"github.com/jplan/jplan/checker/queue"
	"github.com/jplan/jplan/history"
)

func parse(t testing.TB, s string) []history.Op {
	t.Helper()
	h, err := history.ReadJSONL(strings.NewReader(strings.TrimSpace(s) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func run(c checker.Checker, h []history.Op) checker.Result {
	return checker.Run(context.Background(), c, h, checker.Options{})
}

// op renders one op line: process, type, f, value.
func op(p int, typ, f, value string) string {
	return fmt.Sprintf(`{"type":%q,"process":%d,"f":%q,"value":%s}`+"\n", typ, p, f, value)
}

func enq(p int, typ, v string) string {
	return op(p, "invoke", "enqueue", v) + op(p, typ, "enqueue", v)
}
func deq(p int, typ, v string) string {
	return op(p, "invoke", "dequeue", "null") + op(p, typ, "dequeue", v)
}
func drain(p int, typ, v string) string {
	return op(p, "invoke", "drain", "null") + op(p, typ, "drain", v)
}

func totalDetails(t *testing.T, res checker.Result) *queue.TotalDetails {
	t.Helper()
	d, ok := res.Details.(*queue.TotalDetails)
	if !ok {
		t.Fatalf("details are %T: %+v", res.Details, res)
	}
	return d
}

func TestTotalValid(t *testing.T) {
	h := parse(t, enq(0, "ok", "1")+enq(1, "ok", "2")+enq(2, "info", "3")+enq(3, "fail", "4")+
		deq(0, "ok", "2")+deq(0, "ok", "null")+drain(1, "ok", "[1,3]"))
	res := run(queue.Total(queue.Options{}), h)
	if res.Valid != checker.True {
		t.Fatalf("judged %v: %s", res.Valid, res.Summary)
	}
	want := queue.TotalDetails{AttemptCount: 4, AcknowledgedCount: 2, DequeuedCount: 3, OKCount: 3,
		RecoveredCount: 1, Recovered: []any{int64(3)}}
	if d := totalDetails(t, res); !reflect.DeepEqual(*d, want) {
		t.Errorf("details %+v, want %+v", *d, want)
	}
	if res.Summary != "all 2 acknowledged enqueues dequeued; 1 indeterminate enqueues recovered" {
		t.Errorf("summary %q", res.Summary)
	}
}

func TestTotalInvalid(t *testing.T) {
	// 1 acknowledged twice, dequeued once: one copy lost. 2 lost. 9 never
	// enqueued. 5 enqueued once, dequeued three times.
	h := parse(t, enq(0, "ok", "1")+enq(0, "ok", "1")+enq(1, "ok", "2")+enq(2, "ok", "5")+
		deq(3, "ok", "1")+deq(3, "ok", "9")+deq(3, "ok", "5")+drain(4, "ok", "[5,5]"))
	res := run(queue.Total(queue.Options{}), h)
	if res.Valid != checker.False {
		t.Fatalf("judged %v: %s", res.Valid, res.Summary)
	}
	want := queue.TotalDetails{AttemptCount: 4, AcknowledgedCount: 4, DequeuedCount: 5, OKCount: 2,
		UnexpectedCount: 1, DuplicatedCount: 2, LostCount: 2,
		Lost: []any{int64(1), int64(2)}, Unexpected: []any{int64(9)}, Duplicated: []any{int64(5), int64(5)}}
	if d := totalDetails(t, res); !reflect.DeepEqual(*d, want) {
		t.Errorf("details %+v, want %+v", *d, want)
	}
	wantSum := "1 dequeued elements never enqueued: 9; 2 of 4 acknowledged enqueues lost: 1, 2; 2 duplicate dequeues: 5, 5"
	if res.Summary != wantSum {
		t.Errorf("summary %q, want %q", res.Summary, wantSum)
	}
}

// TestTotalDuplicatesOnly: an at-least-once queue passes, as in Jepsen.
func TestTotalDuplicatesOnly(t *testing.T) {
	h := parse(t, enq(0, "ok", `"a"`)+deq(1, "ok", `"a"`)+deq(1, "ok", `"a"`))
	res := run(queue.Total(queue.Options{}), h)
	if d := totalDetails(t, res); res.Valid != checker.True || d.DuplicatedCount != 1 {
		t.Errorf("judged %v, details %+v", res.Valid, *d)
	}
}

func TestTotalCrashedDrain(t *testing.T) {
	lost := enq(0, "ok", "1") + enq(0, "ok", "2") + deq(1, "ok", "1") + drain(2, "info", "null")
	res := run(queue.Total(queue.Options{}), parse(t, lost))
	if d := totalDetails(t, res); res.Valid != checker.Unknown || d.LostCount != 1 || d.CrashedDrains != 1 {
		t.Errorf("lost with a crashed drain: %v %+v", res.Valid, *d)
	}
	// An unexpected element is certain whatever the drain took.
	res = run(queue.Total(queue.Options{}), parse(t, lost+deq(3, "ok", "7")))
	if res.Valid != checker.False {
		t.Errorf("unexpected with a crashed drain: %v %s", res.Valid, res.Summary)
	}
	// A drain that never completed crashed too.
	res = run(queue.Total(queue.Options{}), parse(t, enq(0, "ok", "1")+op(2, "invoke", "drain", "null")))
	if res.Valid != checker.Unknown {
		t.Errorf("pending drain: %v %s", res.Valid, res.Summary)
	}
}

func TestRenamedFs(t *testing.T) {
	h := parse(t, op(0, "invoke", "put", "1")+op(0, "ok", "put", "1")+
		op(1, "invoke", "take", "null")+op(1, "ok", "take", "1")+
		op(1, "invoke", "flush", "null")+op(1, "ok", "flush", "[2]"))
	o := queue.Options{EnqueueF: "put", DequeueF: "take", DrainF: "flush"}
	res := run(queue.Total(o), h)
	if d := totalDetails(t, res); res.Valid != checker.False || d.UnexpectedCount != 1 || d.OKCount != 1 {
		t.Errorf("total: %v %+v", res.Valid, *d)
	}
	res = run(queue.Checker(o), h)
	if d := res.Details.(*queue.Details); res.Valid != checker.False || d.UnexpectedCount != 1 || d.DequeueCount != 2 {
		t.Errorf("queue: %v %+v", res.Valid, *d)
	}
}

func TestBadValues(t *testing.T) {
	for name, h := range map[string]string{
		"drain not a list": enq(0, "ok", "1") + drain(1, "ok", "1"),
		"unpaired":         op(0, "ok", "dequeue", "1"),
	} {
		for _, c := range []checker.Checker{queue.Total(queue.Options{}), queue.Checker(queue.Options{})} {
			res := run(c, parse(t, h))
			if res.Valid != checker.Unknown || !strings.HasPrefix(res.Error, c.Name()+": ") {
				t.Errorf("%s, %s: %+v", name, c.Name(), res)
			}
		}
	}
}

func TestQueueValid(t *testing.T) {
	// The dequeue of 2 completes after 2's enqueue was invoked, though
	// before it completed: the enqueue may already have taken effect.
	h := parse(t, enq(0, "ok", "1")+op(1, "invoke", "enqueue", "2")+deq(2, "ok", "2")+op(1, "info", "enqueue", "2")+
		enq(3, "ok", "1")+drain(2, "ok", "[1]")+enq(0, "ok", "3"))
	res := run(queue.Checker(queue.Options{}), h)
	if res.Valid != checker.True {
		t.Fatalf("judged %v: %s", res.Valid, res.Summary)
	}
	want := queue.Details{EnqueueCount: 4, DequeueCount: 2, Remaining: 2}
	if d := res.Details.(*queue.Details); !reflect.DeepEqual(*d, want) {
		t.Errorf("details %+v, want %+v", *d, want)
	}
}

func TestQueueInvalid(t *testing.T) {
	h := parse(t,
		enq(0, "ok", "1")+ // 0, 1
			deq(1, "ok", "1")+ // 2, 3
			deq(1, "ok", "1")+ // 4, 5: duplicated
			enq(0, "fail", "4")+ // 6, 7
			deq(1, "ok", "4")+ // 8, 9: unexpected: its only enqueue failed
			deq(1, "ok", "5")+ // 10, 11: premature
			enq(0, "ok", "5")) // 12, 13
	res := run(queue.Checker(queue.Options{}), h)
	if res.Valid != checker.False {
		t.Fatalf("judged %v: %s", res.Valid, res.Summary)
	}
	d := res.Details.(*queue.Details)
	bad := func(kind string, v int64, index int64) queue.BadDequeue {
		return queue.BadDequeue{Kind: kind, Value: v, F: "dequeue", Index: index, Time: 0, Process: 1}
	}
	want := queue.Details{EnqueueCount: 2, DequeueCount: 4, Remaining: 1, ErrorCount: 3,
		UnexpectedCount: 1, DuplicatedCount: 1, PrematureCount: 1,
		Errors: []queue.BadDequeue{bad("duplicated", 1, 5), bad("unexpected", 4, 9), bad("premature", 5, 11)}}
	if !reflect.DeepEqual(*d, want) {
		t.Errorf("details %+v, want %+v", *d, want)
	}
	wantSum := "3 of 4 dequeued elements could not have been in the queue (1 unexpected, 1 duplicated, 1 premature); first: duplicated 1 by process 1 at index 5"
	if res.Summary != wantSum {
		t.Errorf("summary %q, want %q", res.Summary, wantSum)
	}
	// MaxReported bounds the list, not the counts.
	res = run(queue.Checker(queue.Options{MaxReported: 1}), h)
	if d := res.Details.(*queue.Details); d.ErrorCount != 3 || len(d.Errors) != 1 {
		t.Errorf("bounded: %+v", *d)
	}
}

// benchHistory is 100k ops: 10 processes enqueue distinct elements and
// dequeue them a little later, ending with a drain of the rest.
func benchHistory() []history.Op {
	h := make([]history.Op, 0, 100002)
	next, taken := int64(0), int64(0)
	emit := func(p int, t history.Type, f string, v any) {
		h = append(h, history.Op{Index: int64(len(h)), Time: int64(len(h)) * 1000, Type: t, Process: p, F: f, Value: v})
	}
	for i := 0; len(h) < 100000; i++ {
		p := i % 10
		if i%2 == 0 || taken == next {
			emit(p, history.Invoke, "enqueue", next)
			emit(p, history.OK, "enqueue", next)
			next++
		} else {
			emit(p, history.Invoke, "dequeue", nil)
			emit(p, history.OK, "dequeue", taken)
			taken++
		}
	}
	rest := make([]any, 0, next-taken)
	for ; taken < next; taken++ {
		rest = append(rest, taken)
	}
	emit(0, history.Invoke, "drain", nil)
	emit(0, history.OK, "drain", rest)
	return h
}

func BenchmarkTotalQueue(b *testing.B) {
	h := benchHistory()
	c := queue.Total(queue.Options{})
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), h, checker.Options{}); res.Valid != checker.True {
			b.Fatal(res.Summary)
		}
	}
}

func BenchmarkQueue(b *testing.B) {
	h := benchHistory()
	c := queue.Checker(queue.Options{})
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), h, checker.Options{}); res.Valid != checker.True {
			b.Fatal(res.Summary)
		}
	}
}
