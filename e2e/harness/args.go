package harness

import "slices"

// Args returns the strata arguments the process runs with (the same on every Restart),
// e.g. to run the same command once more with RunToExit when it is expected to refuse
// to start.
func (p *Process) Args() []string { return slices.Clone(p.args) }
