//! `coffer-wire`: the HTTP face of Coffer.
