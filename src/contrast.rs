//! Class colours a person can read: the WCAG 2 contrast ratio, a palette for any number of
//! classes, and the colour a class is drawn in on a given background.
//!
//! A project stores one colour per class, but no single colour reads well on both a dark and
//! a light panel (text needs a luminance above 0.22 on the dark one and below 0.17 on the
//! light one for 4.5:1). So the stored colour gives the hue, and [`readable_on`] lightens or
//! darkens it, keeping its hue, until it reaches [`MIN_CONTRAST`] against the panel of the
//! theme in use.

/// WCAG 2 level AA for normal text.
pub const MIN_CONTRAST: f64 = 4.5;

/// The panel background of the dark theme (egui's `Visuals::dark().panel_fill`).
pub const DARK_PANEL: [u8; 3] = [27, 27, 27];
/// The panel background of the light theme (egui's `Visuals::light().panel_fill`).
pub const LIGHT_PANEL: [u8; 3] = [248, 248, 248];

/// The first eight class colours: the Okabe–Ito colours that stay distinguishable with the
/// common colour-vision deficiencies (its black replaced by a purple, which reads on both
/// themes), in the order the default taxonomy uses them.
const COLOUR_BLIND_SAFE: [[u8; 3]; 8] = [
    [213, 94, 0],
    [0, 114, 178],
    [86, 180, 233],
    [0, 158, 115],
    [230, 159, 0],
    [240, 228, 66],
    [204, 121, 167],
    [120, 80, 160],
];

/// The colour of the `i`-th class: the eight colour-blind-safe colours, then hues spaced by
/// the golden angle (so any number of classes gets well-separated hues) at a medium
/// lightness and saturation.
pub fn palette_colour(i: usize) -> [u8; 3] {
    if let Some(c) = COLOUR_BLIND_SAFE.get(i) {
        return *c;
    }
    let k = (i - COLOUR_BLIND_SAFE.len()) as f64;
    let hue = (350.0 + k * 137.507_764) % 360.0;
    // Alternate the lightness a little so that neighbouring hues differ in brightness too.
    let lightness = if (i - COLOUR_BLIND_SAFE.len()).is_multiple_of(2) {
        0.52
    } else {
        0.62
    };
    hsl_to_rgb(hue, 0.62, lightness)
}

/// `colour` as it is drawn on `background`: unchanged if it already reaches [`MIN_CONTRAST`],
/// else mixed with white (on a dark background) or black (on a light one) just enough to
/// reach it.
pub fn readable_on(colour: [u8; 3], background: [u8; 3]) -> [u8; 3] {
    if contrast_ratio(colour, background) >= MIN_CONTRAST {
        return colour;
    }
    let towards = if relative_luminance(background) < 0.18 {
        [255, 255, 255]
    } else {
        [0, 0, 0]
    };
    // The ratio grows monotonically with the mix: bisect for the smallest mix that reaches it.
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..24 {
        let mid = 0.5 * (lo + hi);
        if contrast_ratio(mix(colour, towards, mid), background) >= MIN_CONTRAST {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    mix(colour, towards, hi)
}

/// The WCAG 2 contrast ratio of two sRGB colours, from 1 (same luminance) to 21.
pub fn contrast_ratio(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (relative_luminance(a), relative_luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The WCAG 2 relative luminance of an sRGB colour, in [0, 1].
pub fn relative_luminance(c: [u8; 3]) -> f64 {
    let lin = |v: u8| {
        let s = v as f64 / 255.0;
        if s <= 0.04045 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
}

/// `a` moved a share `t` of the way to `b`, channel by channel, rounded away from `a` so that
/// the contrast reached by bisection is not lost to rounding.
fn mix(a: [u8; 3], b: [u8; 3], t: f64) -> [u8; 3] {
    let ch = |x: u8, y: u8| {
        let v = x as f64 + (y as f64 - x as f64) * t;
        let v = if y >= x { v.ceil() } else { v.floor() };
        v.clamp(0.0, 255.0) as u8
    };
    [ch(a[0], b[0]), ch(a[1], b[1]), ch(a[2], b[2])]
}

/// HSL (hue in degrees, saturation and lightness in [0, 1]) to sRGB bytes.
fn hsl_to_rgb(h: f64, s: f64, l: f64) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let byte = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [byte(r), byte(g), byte(b)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_matches_the_wcag_reference_values() {
        assert!((contrast_ratio([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
        assert!((contrast_ratio([77, 77, 77], [77, 77, 77]) - 1.0).abs() < 1e-12);
        // #767676 on white is the classic "just AA" grey: 4.54:1.
        let r = contrast_ratio([0x76, 0x76, 0x76], [255, 255, 255]);
        assert!((r - 4.54).abs() < 0.01, "{r}");
        assert_eq!(
            contrast_ratio([10, 20, 30], [200, 100, 50]),
            contrast_ratio([200, 100, 50], [10, 20, 30])
        );
    }

    #[test]
    fn the_first_32_colours_are_readable_on_both_themes() {
        for i in 0..32 {
            let c = palette_colour(i);
            for bg in [DARK_PANEL, LIGHT_PANEL] {
                let shown = readable_on(c, bg);
                let r = contrast_ratio(shown, bg);
                assert!(
                    r >= MIN_CONTRAST,
                    "colour {i} {c:?} on {bg:?}: {shown:?} at {r:.2}"
                );
            }
        }
    }

    #[test]
    fn colours_that_already_read_well_are_kept_and_others_keep_their_hue() {
        // Yellow reads on the dark panel as it is.
        assert_eq!(readable_on([240, 228, 66], DARK_PANEL), [240, 228, 66]);
        // The old near-black class colour becomes a light grey on the dark panel, and the
        // blue stays blue (its blue channel still the largest).
        let grey = readable_on([30, 30, 30], DARK_PANEL);
        assert!(
            grey[0] > 100 && grey[0] == grey[1] && grey[1] == grey[2],
            "{grey:?}"
        );
        let blue = readable_on([40, 60, 140], DARK_PANEL);
        assert!(blue[2] > blue[0] && blue[2] > blue[1], "{blue:?}");
        // Only as much as needed: one step less mix would not reach 4.5.
        assert!(contrast_ratio(blue, DARK_PANEL) < MIN_CONTRAST + 0.2);
    }

    #[test]
    fn palette_colours_after_the_eighth_are_distinct_and_never_near_black_or_grey() {
        let colours: Vec<[u8; 3]> = (0..40).map(palette_colour).collect();
        for (i, a) in colours.iter().enumerate() {
            let spread = *a.iter().max().unwrap() as i32 - *a.iter().min().unwrap() as i32;
            if i >= 8 {
                assert!(spread > 60, "colour {i} {a:?} is nearly grey");
                assert!(
                    relative_luminance(*a) > 0.08,
                    "colour {i} {a:?} is nearly black"
                );
            }
            for b in &colours[..i] {
                assert_ne!(a, b, "colour {i} repeats");
            }
        }
    }
}
