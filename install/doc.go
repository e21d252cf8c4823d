// Package install turns a resolved artifact into an installed version: it
// fetches the artifact into a fresh staging directory under tmp/, checks
// its SHA-256 before anything else reads it, unpacks archives itself,
// hashes the installed tree, writes the receipt last, and makes the whole
// version visible with one rename. It also activates, removes and
// re-verifies installed versions, lists them with their receipts' details
// (Installed, for list and info), and runs the commands that change the
// store as a whole: several installs at once (InstallPlans, of the plans
// ConfigPlans, IndexPlans and ReinstallPlans build), the lock file
// they are recorded in (LockSaver, the one writer of install --save and
// upgrade --save), upgrade (Statuses, Upgrade), prune (Prune) and sync
// (Sync, SyncCheck).
//
// It does not choose versions (index/ resolves NAME@CONSTRAINT) and does not
// launch anything: prune and sync --prune only look up, and stop or refuse
// (internal/runner's StopRunning), what would be removed while it runs. Publishing and
// mirroring are publish/'s.
package install
