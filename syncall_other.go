//go:build !unix

package aiofs

// syncAll fails: this system has no call that commits every file system,
// and files are known by their paths here (see fileKey), so only more than
// maxUnsynced closed files can bring Fs.Sync to need it. A variable, as on
// unix (see there).
var syncAll = func() error { return errTooManyUnsynced }
