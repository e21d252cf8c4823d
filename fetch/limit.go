package fetch

// WithMaxBytes returns a Fetcher like f whose size limit is at most n: for
// files that have a smaller limit of their own (an index), so that an
// oversized one is refused while it downloads rather than after.
func (f *Fetcher) WithMaxBytes(n int64) *Fetcher {
	c := *f
	if c.opts.MaxBytes < 0 || c.opts.MaxBytes > n {
		c.opts.MaxBytes = n
	}
	return &c
}
