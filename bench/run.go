package bench

import (
	"context"
)

// Run performs one run of o.Scenario and returns what it measured. The Result
// is never nil: a run that failed part-way carries its numbers and its error
// text. An error wrapping ErrIntegrity means messages were lost, duplicated
// or reordered; any other error means the run could not be carried out.
func Run(ctx context.Context, o Options) (*Result, error) {
	err := o.normalize()
	res := &Result{
		Scenario: o.Scenario, Label: o.Label, URL: redact(o.URL),
		Size: o.Size, Pubs: o.Pubs, Subs: o.Subs, Warmup: o.Warmup,
	}
	if o.SubURL != o.URL {
		res.SubURL = redact(o.SubURL)
	}
	if err == nil {
		switch o.Scenario {
		case ReqRep:
			err = runReqRep(ctx, &o, res)
		case Conns:
			res.Size, res.Pubs, res.Subs = 0, 0, 0
			err = runConns(ctx, &o, res)
		default:
			err = runFlow(ctx, &o, res)
		}
	}
	res.OK = err == nil
	if err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	return res, err
}
