//! `coffer-testkit`: port contract suites and in-memory fakes.
