package loop

// sysState is filled in by the system account's services.
type sysState struct{}
