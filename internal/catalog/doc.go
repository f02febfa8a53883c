// Package catalog writes the configured catalog (config.Config's users,
// apps and entitlements) into the store, so that every other part of
// Sesame reads people and apps from one place.
//
// Sync is idempotent: syncing the same configuration twice changes nothing
// and audits nothing the second time. Things that disappear from the
// configuration are kept in this version; offboarding people and retiring
// apps belong to the identity and discovery syncs.
package catalog
