//! Enrollment bundles on paper and on disk: the JSON file (`*.tsunagi-enroll.json`, mode 0600:
//! it holds a one-time code), its QR code as a PNG next to it (`FILE.png`) and as text for the
//! terminal. The QR code encodes the compact bundle JSON.

use image::{ImageFormat, Luma};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use tsunagi_protocol::api::EnrollmentBundle;

use crate::error::AdminError;
use crate::state::write_new;

/// Pixels per QR module in the PNG: about 4 cm wide on paper at 300 dpi for a typical bundle.
pub const PNG_MODULE_PX: u32 = 8;

/// The compact JSON the file holds and the QR code encodes.
pub fn bundle_json(bundle: &EnrollmentBundle) -> String {
    // Serializing plain strings, numbers and base64 cannot fail.
    serde_json::to_string(bundle).unwrap_or_default()
}

/// The QR code of the bundle (error correction level M).
pub fn qr_code(bundle: &EnrollmentBundle) -> Result<QrCode, AdminError> {
    QrCode::new(bundle_json(bundle).as_bytes()).map_err(|e| AdminError::Qr(e.to_string()))
}

/// The QR code as PNG bytes: dark modules black, with the standard quiet zone.
pub fn qr_png(code: &QrCode) -> Result<Vec<u8>, AdminError> {
    let img = code
        .render::<Luma<u8>>()
        .module_dimensions(PNG_MODULE_PX, PNG_MODULE_PX)
        .build();
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(|e| AdminError::Qr(e.to_string()))?;
    Ok(out.into_inner())
}

/// The QR code for a terminal, two modules per character cell: dark modules are blank cells
/// and light ones blocks, which reads right on the usual light-on-dark terminal.
pub fn qr_terminal(code: &QrCode) -> String {
    code.render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .build()
}

/// Where the PNG of the bundle file `path` goes: the same name with `.png` appended.
pub fn png_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".png");
    PathBuf::from(s)
}

/// Refuses to go on when the bundle file or its PNG already exists (checked before the server
/// issues a code, so that a code is not lost for want of a file name).
pub fn check_free(path: &Path) -> Result<(), AdminError> {
    for p in [path.to_owned(), png_path(path)] {
        if p.exists() {
            return Err(AdminError::FileExists(p));
        }
    }
    Ok(())
}

/// Writes the bundle file (0600) and its QR code PNG; returns the PNG's path.
pub fn write_bundle(
    bundle: &EnrollmentBundle,
    path: &Path,
) -> Result<(PathBuf, QrCode), AdminError> {
    let code = qr_code(bundle)?;
    let png = qr_png(&code)?;
    check_free(path)?;
    write_new(path, bundle_json(bundle).as_bytes(), 0o600)?;
    let png_path = png_path(path);
    write_new(&png_path, &png, 0o600)?;
    Ok((png_path, code))
}
