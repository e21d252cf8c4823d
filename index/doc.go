// Package index reads plugin indexes (YAML or JSON, one schema), keeps the
// list of configured indexes in config.yaml, caches their fetched copies
// under indexes/, searches them (Search) and describes a plugin's offers
// (Offer.Info), and resolves NAME[@CONSTRAINT] to one artifact for one
// platform.
//
// It fetches through fetch/ and never touches plugins/: install/ turns a
// resolved artifact into an installed version. Signatures are checked by
// verify/ before an index is accepted into the cache.
package index
