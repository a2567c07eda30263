package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

func med(d []time.Duration) time.Duration { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }); return d[len(d)/2] }

func main() {
	py := os.Args[1]
	var h, b []time.Duration
	for i := 0; i < 40; i++ {
		inv, _ := sandbox.NewInvocation("print(1)", sandbox.HarnessOptions{EnvelopeFD: 3})
		r, w, _ := os.Pipe()
		cmd := exec.Command(py, sandbox.HarnessArgs()...)
		cmd.Stdin = bytes.NewReader(inv.Stdin)
		cmd.ExtraFiles = []*os.File{w}
		t := time.Now()
		cmd.Output()
		h = append(h, time.Since(t))
		w.Close(); r.Close()
		t = time.Now()
		exec.Command(py, "-I", "-S", "-c", "print(1)").Output()
		b = append(b, time.Since(t))
	}
	fmt.Println("harness", med(h), "bare", med(b))
}
