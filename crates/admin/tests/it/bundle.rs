//! Enrollment bundle files and their QR codes.

use crate::sample_bundle;
use std::os::unix::fs::PermissionsExt;
use tsunagi_admin::bundle::{PNG_MODULE_PX, png_path, qr_code, qr_terminal, write_bundle};
use tsunagi_protocol::api::EnrollmentBundle;

#[test]
fn bundle_file_is_the_documented_compact_json() {
    let b = sample_bundle();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("hanako.tsunagi-enroll.json");
    write_bundle(&b, &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains('\n') && !text.contains(": "),
        "compact: {text}"
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "admin_pub",
            "code",
            "expires_at",
            "lease_days",
            "org_recovery_pub",
            "pin_min_digits",
            "role",
            "server_pub",
            "server_url",
            "team",
            "user",
            "user_name",
            "v"
        ]
    );
    assert_eq!(v["v"], 1);
    assert_eq!(v["role"], "worker");
    assert_eq!(v["user_name"], "山田花子");
    assert_eq!(
        v["server_pub"],
        tsunagi_protocol::b64::encode(&b.server_pub),
        "standard base64"
    );
    let back: EnrollmentBundle = serde_json::from_str(&text).unwrap();
    assert_eq!(back, b);
    // A bundle written before IT's device policy existed parses with the defaults.
    let mut old = v.clone();
    old.as_object_mut().unwrap().remove("pin_min_digits");
    old.as_object_mut().unwrap().remove("lease_days");
    let old: EnrollmentBundle = serde_json::from_value(old).unwrap();
    assert_eq!((old.pin_min_digits, old.lease_days), (6, 14));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the bundle holds a one-time code");
}

#[test]
fn qr_png_is_a_png_of_the_bundle_json_modules() {
    let b = sample_bundle();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("b.tsunagi-enroll.json");
    let (png, code) = write_bundle(&b, &path).unwrap();
    assert_eq!(png, png_path(&path));
    assert!(png.to_string_lossy().ends_with(".tsunagi-enroll.json.png"));
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");

    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .unwrap()
        .to_luma8();
    let modules = u32::try_from(code.width()).unwrap();
    let side = (modules + 8) * PNG_MODULE_PX; // 4-module quiet zone on each side
    assert_eq!(img.dimensions(), (side, side));

    // The PNG's modules are those of the QR code of the file's JSON.
    let expected = qr_code(&b).unwrap().to_colors();
    assert_eq!(code.to_colors(), expected);
    for y in 0..modules {
        for x in 0..modules {
            let px = img.get_pixel(
                (x + 4) * PNG_MODULE_PX + PNG_MODULE_PX / 2,
                (y + 4) * PNG_MODULE_PX + PNG_MODULE_PX / 2,
            )[0];
            let dark = expected[(y * modules + x) as usize] == qrcode::Color::Dark;
            assert_eq!(px == 0, dark, "module ({x}, {y})");
        }
    }
    let term = qr_terminal(&code);
    assert!(term.lines().count() >= (code.width() + 8) / 2);
    assert!(term.contains('█') || term.contains('▀') || term.contains('▄'));
}

#[test]
fn existing_bundle_or_png_is_never_overwritten() {
    let b = sample_bundle();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("b.json");
    std::fs::write(png_path(&path), b"mine").unwrap();
    let Err(err) = write_bundle(&b, &path) else {
        panic!("overwrote the PNG")
    };
    assert_eq!(err.code(), "file_exists");
    assert!(!path.exists());
    assert_eq!(std::fs::read(png_path(&path)).unwrap(), b"mine");
}
