package checker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jplan/jplan/history"
)

// TestTimelineEscapes: whatever a history holds (an f, a value or an error
// with markup in it) is text on the page, in the static boxes' labels and
// tooltips and in the scripted page's data, never markup; and the page's
// own styles and script come through the template whole.
func TestTimelineEscapes(t *testing.T) {
	const evil = `<script>alert("x")</script>&'`
	h := []history.Op{
		{Index: 0, Time: 0, Type: history.Invoke, Process: 0, F: "write" + evil, Value: evil},
		{Index: 1, Time: 1000, Type: history.Fail, Process: 0, F: "write" + evil, Value: evil, Error: evil},
		{Index: 2, Time: 2000, Type: history.Invoke, Process: history.NemesisProcess, F: "start-partition"},
		{Index: 3, Time: 3000, Type: history.Info, Process: history.NemesisProcess, F: "start-partition"},
		{Index: 4, Time: 4000, Type: history.Invoke, Process: 1, F: "read"},
		{Index: 5, Time: 5000, Type: history.OK, Process: 1, F: "read", Value: int64(3)},
	}
	for _, static := range []int{100, 1} {
		dir := t.TempDir()
		res := Timeline(TimelineOptions{StaticOps: static}).Check(context.Background(), h, Options{Dir: dir})
		if res.Valid != True || res.Error != "" {
			t.Fatalf("%+v", res)
		}
		b, err := os.ReadFile(filepath.Join(dir, "timeline.html"))
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		if strings.Contains(page, `<script>alert`) || strings.Contains(page, "ZgotmplZ") {
			t.Errorf("StaticOps %d: markup from the history reached the page:\n%s", static, page)
		}
		for _, want := range []string{".op{position:absolute;width:104px;", `<div class="hdr"><div style="left:80px">nemesis</div><div style="left:190px">0</div>`} {
			if !strings.Contains(page, want) {
				t.Errorf("StaticOps %d: page lacks %q:\n%s", static, want, page)
			}
		}
		if static == 100 {
			for _, want := range []string{`class="op fail"`, `write&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#39;`, "error: &lt;script&gt;", `class="op ok" style="left:300px;`, ">read 3</div>"} {
				if !strings.Contains(page, want) {
					t.Errorf("static page lacks %q:\n%s", want, page)
				}
			}
		} else {
			for _, want := range []string{`var C=["invoke","ok","fail","info"]`, `AX= 80 , CW= 110 `, `\u003cscript\u003ealert`, "requestAnimationFrame(draw)"} {
				if !strings.Contains(page, want) {
					t.Errorf("scripted page lacks %q:\n%s", want, page)
				}
			}
		}
	}
}
