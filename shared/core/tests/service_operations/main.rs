//! The behaviour of every Secrets Manager operation, in-process.
//!
//! Where this suite sits: the in-process layer of the test pyramid. Every operation is driven
//! through `SecretsService::handle` — the entry point the wire layer calls — on the port fakes
//! of `coffer_testkit` (in-memory repository, keys and principals, a `ManualClock` the tests
//! move by hand, counting randomness, a recording audit sink and a recording rotation invoker),
//! so the whole suite runs in a few seconds, never sleeps and touches no network. It proves
//! what each operation does: the response members AWS documents with their values, the state
//! it leaves behind (staging labels, versions, dates, tags, policies, rotation configuration),
//! and AWS's exact error codes (and messages, where the service has a fixed one). The
//! authorization matrix (`authorization_matrix.rs`) proves who may call each operation; the
//! end-to-end suite (`tests/tests/e2e`) proves the wire, the AWS SDK and the real processes.
//!
//! Coverage is checked, not hoped for: each module keeps a `CASES` table next to its tests
//! (built by `cases!`, which names the test functions themselves), registering every test under
//! the operation it proves and whether it proves the operation's behaviour, an error case, or
//! its refusal (replication). `every_secrets_manager_operation_is_covered` compares the tables
//! with `Operation::ALL`: every Secrets Manager operation needs a behaviour test and an error
//! test (or refusal tests); it then runs each registered test to see that it really calls its
//! operation. A new operation cannot ship without its tests here.
//!
//! Where the service departs from AWS, the test keeps asserting AWS's behaviour and is marked
//! `#[ignore = "bug: ..."]`; it still counts for coverage.

use coffer_core::operation::{Api, Operation};
use std::collections::BTreeMap;

/// What one registered test proves about its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The success path: response members and the state left behind.
    Behaviour,
    /// An error case: AWS's code (and message).
    Error,
    /// The operation is refused by this server (replication).
    Refused,
}

/// One test of the suite and the operation it covers.
pub struct Case {
    pub operation: Operation,
    pub kind: Kind,
    pub name: &'static str,
    pub test: fn(),
}

/// `cases! { Operation Kind test_fn, ... }`: the module's `CASES` table. Naming the test
/// function (not a string) makes a renamed or deleted test a compile error.
macro_rules! cases {
    ($($op:ident $kind:ident $test:ident),* $(,)?) => {
        pub const CASES: &[$crate::Case] = &[$($crate::Case {
            operation: coffer_core::operation::Operation::$op,
            kind: $crate::Kind::$kind,
            name: stringify!($test),
            test: $test,
        }),*];
    };
}

mod harness;

mod batch;
mod create_describe;
mod delete_restore;
mod get_put;
mod listing;
mod password;
mod policies;
mod replication;
mod rotation;
mod tags;
mod update_stages;

/// Every module's table.
const MODULES: &[&[Case]] = &[
    create_describe::CASES,
    get_put::CASES,
    batch::CASES,
    update_stages::CASES,
    delete_restore::CASES,
    listing::CASES,
    tags::CASES,
    password::CASES,
    policies::CASES,
    rotation::CASES,
    replication::CASES,
];

#[test]
fn every_secrets_manager_operation_is_covered() {
    let cases: Vec<&Case> = MODULES.iter().flat_map(|m| m.iter()).collect();
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for case in &cases {
        if case.operation.api() != Api::SecretsManager {
            problems.push(format!(
                "{} is registered under {}, which is not a Secrets Manager operation",
                case.name, case.operation
            ));
        }
        if seen.insert((case.operation, case.name), ()).is_some() {
            problems.push(format!(
                "{} is registered twice under {}",
                case.name, case.operation
            ));
        }
    }
    let mut operations = 0;
    for op in Operation::of(Api::SecretsManager) {
        operations += 1;
        let count = |kind: Kind| {
            cases
                .iter()
                .filter(|c| c.operation == op && c.kind == kind)
                .count()
        };
        let (behaviour, errors, refused) = (
            count(Kind::Behaviour),
            count(Kind::Error),
            count(Kind::Refused),
        );
        println!(
            "{:<32} {:>2} tests ({behaviour} behaviour, {errors} error, {refused} refused)",
            op.name(),
            behaviour + errors + refused
        );
        match (behaviour, errors, refused) {
            (0, 0, 0) => problems.push(format!("{op} has no test in this suite")),
            (_, _, r) if r > 0 && behaviour + errors > 0 => problems.push(format!(
                "{op} is registered both as refused and as implemented"
            )),
            (0, _, 0) => problems.push(format!("{op} has no behaviour test")),
            (_, 0, 0) => problems.push(format!("{op} has no error test")),
            _ => {}
        }
    }
    assert_eq!(
        operations,
        Operation::ALL
            .iter()
            .filter(|op| op.api() == Api::SecretsManager)
            .count()
    );
    // Each registered test must really call its operation (through `Harness::call_as`). The
    // tests are run here only to see what they call: one that fails (a regression, a known
    // bug) fails on its own, and is not held against its registration.
    for case in &cases {
        harness::take_called();
        let passed = std::panic::catch_unwind(case.test).is_ok();
        let called = harness::take_called();
        if passed && !called.contains(&case.operation) {
            problems.push(format!(
                "{} is registered under {} but never calls it (it calls {called:?})",
                case.name, case.operation
            ));
        }
    }
    println!("{} registered tests", cases.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
