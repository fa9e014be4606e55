// Package modes holds what the three modes (passthrough, monitor,
// enforce) are and what each makes of a policy decision. It is a leaf:
// the policy schema (rules) names its modes with it, and the engine turns
// decisions into verdicts with Apply. The policy in force and its
// replacement on reload live in package inforce.
package modes
