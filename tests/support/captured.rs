//! Captured plan inputs (`src/run/capture.rs`): what a plan of a kernel test was made
//! from, gzipped JSON, read back for the planner without a kernel.

use netscript::run::capture::PlanInputs;
use std::io::Read;
use std::path::Path;

pub fn read(file: &Path) -> PlanInputs {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))).read_to_string(&mut text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e} (a field added to the desired or observed state needs `#[serde(default)]` to read captures, or capture anew: scripts/capture-plans.sh)", file.display()))
}
