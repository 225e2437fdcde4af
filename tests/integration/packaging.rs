//! The .deb: built by packaging/build-deb.sh from the test build's binaries, then checked with
//! dpkg-deb --info/--contents (arm64/armhf packages come from the cross builds in .ci/run).

use std::process::Command;

use crate::util::repo;

#[test]
fn deb_has_binaries_unit_config_models_and_maintainer_scripts() {
    let out = tempfile::tempdir().unwrap();
    let built = Command::new(repo("packaging/build-deb.sh"))
        .args(["--profile", "dev", "--out"])
        .arg(out.path())
        .env("DEB_COMPRESSION", "gzip")
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let deb = String::from_utf8(built.stdout).unwrap().trim().to_owned();
    assert!(deb.ends_with("_amd64.deb"), "{deb}");

    let info = Command::new("dpkg-deb").args(["--info", &deb]).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    for want in
        ["Package: comicbooth", "Architecture: amd64", "Depends: libc6", "postinst", "prerm", "conffiles"]
    {
        assert!(info.contains(want), "{want} missing from:\n{info}");
    }
    // A build with MP4 links OpenH264's C++ code: the package then needs the C++ runtime.
    assert_eq!(info.contains("libstdc++6"), cfg!(feature = "mp4"), "{info}");
    let contents = Command::new("dpkg-deb").args(["--contents", &deb]).output().unwrap();
    let contents = String::from_utf8_lossy(&contents.stdout);
    for want in [
        "./usr/bin/comicbooth",
        "./usr/bin/comicbooth-camtest",
        "./lib/systemd/system/comicbooth.service",
        "./lib/systemd/system/comicbooth-share.service",
        "./etc/comicbooth/comicbooth.toml",
        "./usr/share/comicbooth/models/comic_generator.f32.onnx",
        "./usr/share/comicbooth/models/comic_generator.f32.toml",
        "./usr/share/comicbooth/models/comic_generator.int8.onnx",
        "./usr/share/comicbooth/models/comic_generator.int8.toml",
        "./usr/share/comicbooth/models/comic_gate.f32.onnx",
        "./usr/share/comicbooth/models/comic_gate.f32.toml",
        "./usr/share/doc/comicbooth/copyright",
    ] {
        assert!(contents.contains(want), "{want} missing from:\n{contents}");
    }
    // Files are root-owned in the package, whoever built it.
    assert!(contents.lines().all(|l| l.contains("root/root")), "{contents}");
}
