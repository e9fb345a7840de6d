//! Rebuilds when a migration changes: `sqlx::migrate!` embeds the `migrations/` directory at
//! compile time, and cargo does not otherwise notice new or edited `.sql` files.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
