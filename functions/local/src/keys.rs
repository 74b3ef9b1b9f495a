//! `coffer keys ...`: manage the master keys of the local keyring (create, list, disable,
//! enable). The keyring file is shared safely with a running server, which sees changes at once.

use crate::config::{KeysAction, KeysArgs};
use coffer_core::ids::Scope;
use coffer_embedded::keyring::{FileKeyring, KeyMetadata};
use coffer_embedded::{OsRandom, SystemClock};
use std::error::Error;
use std::sync::Arc;

fn print_key(key: &KeyMetadata) {
    println!(
        "{}\t{}\t{}\t{}",
        key.key_id,
        if key.enabled { "Enabled" } else { "Disabled" },
        key.arn,
        key.aliases.join(",")
    );
}

pub async fn run(args: KeysArgs) -> Result<(), Box<dyn Error + Send + Sync>> {
    let keyring = FileKeyring::open(&args.data_dir, Arc::new(OsRandom), Arc::new(SystemClock))?;
    let scope = Scope::new(args.region.clone(), args.account_id.clone());
    match args.action {
        KeysAction::Create { alias, description } => {
            print_key(&keyring.create_key(&scope, &description, alias.as_deref())?)
        }
        KeysAction::List => {
            for key in keyring.list_keys(&scope) {
                print_key(&key);
            }
        }
        KeysAction::Disable { key_id } => print_key(&keyring.set_enabled(&scope, &key_id, false)?),
        KeysAction::Enable { key_id } => print_key(&keyring.set_enabled(&scope, &key_id, true)?),
    }
    Ok(())
}
