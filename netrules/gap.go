package netrules

// Gap is a part of the network rules a backend cannot enforce itself.
type Gap struct {
	// Pointer locates the rule in the policy document ("/network/deny/0").
	Pointer string
	// Rule names it ("network.deny[0] (host *.internal.example.com, every
	// port)").
	Rule string
	// Why says what would happen instead, in one sentence.
	Why string
}

// NewGap is the gap of the rule r at index i of list (AllowList or
// DenyList), for the reason why.
func NewGap(list string, i int, r Rule, why string) Gap {
	return Gap{Pointer: Pointer(list, i), Rule: Name(list, i, r), Why: why}
}
