package policy_test

import (
	"reflect"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/policy"
)

// TestDocumentedExampleIsTheDefault keeps examples/policy.yaml, which the
// README documents, loadable and equal to the defaults it claims to show.
func TestDocumentedExampleIsTheDefault(t *testing.T) {
	p, err := policy.Load("../examples/policy.yaml")
	if err != nil {
		t.Fatalf("examples/policy.yaml: %v", err)
	}
	if !reflect.DeepEqual(p, policy.Default()) {
		t.Errorf("examples/policy.yaml = %+v\nwant the defaults %+v", p, policy.Default())
	}
}
