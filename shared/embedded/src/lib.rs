//! `coffer-embedded`: adapters for one machine.
