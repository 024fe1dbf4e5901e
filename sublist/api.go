package sublist

// This file is the contract other packages code against; the implementation
// lives beside it.

// Result is what a subject matches: the plain subscriptions and, per queue
// group, its members. A Result is shared and read-only: never modify it.
type Result[T comparable] struct {
	Plain  []T
	Groups []Group[T]
}

// Group is one queue group of a Result.
type Group[T comparable] struct {
	Name    string
	Members []T
}
