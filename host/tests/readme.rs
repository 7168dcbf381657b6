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

/// The reference's complete example is every key at its default: it parses,
/// validates, and is the default configuration.
#[test]
fn the_reference_example_is_the_default_configuration() {
    let reference = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md"),
    )
    .unwrap();
    let section = &reference[reference
        .find("## Complete example")
        .expect("a Complete example section")..];
    let start = section.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let config = Config::from_toml(example, Path::new("configuration.md")).unwrap();
    config.validate().unwrap();
    assert_eq!(config, Config::default());
}
