package leaf

// Interest is what a server has told one link: each subject key ("subject"
// or "subject queue") with the number of local subscriptions behind it (for
// a queue, the sum of member weights). It decides when an LS+ or LS- is due
// and appends it. An Interest is not safe for concurrent use: the account
// that owns the link guards it.
type Interest struct {
	m map[string]int32
}

// Update changes the count of a key by delta and appends the line the peer
// must now see, if any: a plain key is announced when its count leaves
// zero and withdrawn when it returns there; a queue key is re-announced
// with its new total on every change, since the weight is absolute.
func (in *Interest) Update(b []byte, subject, queue string, delta int32) []byte {
	if in.m == nil {
		in.m = make(map[string]int32)
	}
	key := subject
	if queue != "" {
		key = subject + " " + queue
	}
	n, ok := in.m[key]
	if delta < 0 && !ok {
		return b
	}
	was := n
	n += delta
	if n > 0 {
		in.m[key] = n
	} else {
		delete(in.m, key)
	}
	switch {
	case queue != "" && n > 0:
		return AppendSub(b, subject, queue, n)
	case n <= 0 && was > 0:
		return AppendUnsub(b, subject, queue)
	case queue == "" && was <= 0 && n > 0:
		return AppendSub(b, subject, "", 0)
	}
	return b
}

// Count is the current count of a key.
func (in *Interest) Count(subject, queue string) int32 {
	if queue != "" {
		return in.m[subject+" "+queue]
	}
	return in.m[subject]
}

// Len is the number of keys announced.
func (in *Interest) Len() int { return len(in.m) }

// Keys calls fn for every key announced, with its count.
func (in *Interest) Keys(fn func(key string, n int32)) {
	for k, n := range in.m {
		fn(k, n)
	}
}
