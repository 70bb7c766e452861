//go:build !linux

package storage

func limitMallocArenas(int) {}
