//! docs/LANGUAGE.md is the repository's copy of the language contract, which lives in the
//! project's shared files (`shared/LANGUAGE.md`). Where those files are beside the
//! repository (`../shared/LANGUAGE.md`, as in CI), the copy must be identical to them;
//! where they are not (a clone on its own), there is nothing to compare it with.

use std::path::Path;

#[test]
fn language_contract_copy_matches_shared() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = std::fs::read(repo.join("docs/LANGUAGE.md")).expect("docs/LANGUAGE.md");
    assert!(!copy.is_empty(), "docs/LANGUAGE.md is empty");
    let shared = repo.join("../shared/LANGUAGE.md");
    match std::fs::read(&shared) {
        Ok(original) => assert!(
            original == copy,
            "docs/LANGUAGE.md differs from {}: copy it again (cp ../shared/LANGUAGE.md docs/LANGUAGE.md)",
            shared.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot read {}: {e}", shared.display()),
    }
}
