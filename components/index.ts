// Package entry: every public component and its Args type is exported from here.
export {};
