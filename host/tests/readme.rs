//! The configuration shown in the README must be a valid configuration.

use std::path::Path;
use toolhost::Config;

#[test]
fn the_readme_configuration_example_parses_and_validates() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = &readme[readme
        .find("## Configuration")
        .expect("a Configuration section")..];
    let start = section.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let config = Config::from_toml(example, Path::new("README.md")).unwrap();
    config.validate().unwrap();
    assert_eq!(
        config.tools["notes_create"].roles.as_deref(),
        Some(&["member".to_owned()][..])
    );
}
