//! `<watchdog>`, `<memballoon>`, `<rng>` and `<panic>`.

use virt_core::model::devices::{Memballoon, Panic, Rng, RngBackend, Watchdog};
use virt_core::model::display::Audio;
use virt_core::model::enums::{
    CharType, MemballoonModel, PanicModel, RngModel, WatchdogAction, WatchdogModel,
};
use virt_core::xml::FormatOptions;

use super::chardev;
use super::{format_info, parse_address, parse_alias};
use crate::domain::non_empty;
use crate::strict::Cursor;
use crate::writer::Writer;
use crate::XmlError;

pub(super) fn parse_watchdog(mut c: Cursor<'_>) -> Result<Watchdog, XmlError> {
    let model = c.attr_req("model")?;
    let model = WatchdogModel::from_xml(model).ok_or_else(|| {
        c.invalid_attr("model", model, "expected i6300esb, ib700, diag288 or itco")
    })?;
    let action = c
        .attr_with(
            "action",
            "expected a watchdog action",
            WatchdogAction::from_xml,
        )?
        .unwrap_or_default();
    let alias = parse_alias(&mut c)?;
    let address = parse_address(&mut c)?;
    c.finish()?;
    Ok(Watchdog {
        model,
        action,
        alias,
        address,
    })
}

pub(super) fn format_watchdog(w: &mut Writer, x: &Watchdog) {
    w.tag("watchdog")
        .attr("model", x.model)
        .attr("action", x.action)
        .children(|w| format_info(w, None, x.alias.as_deref(), x.address.as_ref()));
}

pub(super) fn parse_memballoon(mut c: Cursor<'_>) -> Result<Memballoon, XmlError> {
    let model = c.attr_req("model")?;
    let model = MemballoonModel::from_xml(model)
        .ok_or_else(|| c.invalid_attr("model", model, "expected a memballoon model"))?;
    let mut b = Memballoon {
        model,
        autodeflate: c.attr_on_off("autodeflate")?,
        free_page_reporting: c.attr_on_off("freePageReporting")?,
        ..Memballoon::default()
    };
    if let Some(mut s) = c.child("stats")? {
        b.stats_period = Some(s.attr_u32("period")?.ok_or_else(|| XmlError::Missing {
            path: s.attr_path("period"),
        })?);
        s.finish()?;
    }
    b.alias = parse_alias(&mut c)?;
    b.address = parse_address(&mut c)?;
    c.finish()?;
    Ok(b)
}

pub(super) fn format_memballoon(w: &mut Writer, b: &Memballoon) {
    w.tag("memballoon")
        .attr("model", b.model)
        .on_off("autodeflate", b.autodeflate)
        .on_off("freePageReporting", b.free_page_reporting)
        .children(|w| {
            if let Some(p) = b.stats_period {
                w.tag("stats").attr("period", p).empty();
            }
            format_info(w, None, b.alias.as_deref(), b.address.as_ref());
        });
}

pub(super) fn parse_rng(mut c: Cursor<'_>) -> Result<Rng, XmlError> {
    let model = c.attr_req("model")?;
    let model = RngModel::from_xml(model)
        .ok_or_else(|| c.invalid_attr("model", model, "expected an rng model"))?;
    let mut r = Rng {
        model,
        ..Rng::default()
    };
    if let Some(mut rate) = c.child("rate")? {
        r.rate_bytes = Some(rate.attr_u32("bytes")?.ok_or_else(|| XmlError::Missing {
            path: rate.attr_path("bytes"),
        })?);
        r.rate_period = rate.attr_u32("period")?;
        rate.finish()?;
    }
    let mut b = c.child("backend")?.ok_or_else(|| XmlError::Missing {
        path: format!("{}/backend", c.path()),
    })?;
    let bm = b.attr_req("model")?;
    r.backend = match bm {
        // libvirt fills the host's /dev/random when no device is named.
        "random" => RngBackend::Random(Some(
            non_empty(Some(b.text()?.trim().to_string())).unwrap_or_else(|| "/dev/random".into()),
        )),
        "builtin" => RngBackend::Builtin,
        "egd" => {
            let ty = b.attr_req("type")?;
            let ty = CharType::from_xml(ty)
                .ok_or_else(|| b.invalid_attr("type", ty, "expected a character device type"))?;
            RngBackend::Egd(chardev::parse_source(&mut b, ty)?)
        }
        other => return Err(b.invalid_attr("model", other, "expected random, egd or builtin")),
    };
    b.finish()?;
    r.alias = parse_alias(&mut c)?;
    r.address = parse_address(&mut c)?;
    c.finish()?;
    Ok(r)
}

pub(super) fn format_rng(w: &mut Writer, r: &Rng) {
    w.tag("rng").attr("model", r.model).open();
    if let Some(bytes) = r.rate_bytes {
        w.tag("rate")
            .attr("bytes", bytes)
            .attr_opt("period", r.rate_period)
            .empty();
    }
    match &r.backend {
        RngBackend::Random(Some(path)) => w.tag("backend").attr("model", "random").text(path),
        RngBackend::Random(None) => w.tag("backend").attr("model", "random").empty(),
        RngBackend::Builtin => w.tag("backend").attr("model", "builtin").empty(),
        RngBackend::Egd(src) => {
            let live = FormatOptions {
                inactive: false,
                ..FormatOptions::default()
            };
            w.tag("backend")
                .attr("model", "egd")
                .attr("type", src.char_type)
                .children(|w| chardev::format_source(w, src, live));
        }
    }
    format_info(w, None, r.alias.as_deref(), r.address.as_ref());
    w.close("rng");
}

pub(super) fn parse_hub(mut c: Cursor<'_>) -> Result<virt_core::model::devices::Hub, XmlError> {
    let hub_type = c
        .attr_word("type", &["usb"])?
        .ok_or_else(|| XmlError::Missing {
            path: c.attr_path("type"),
        })?;
    let alias = parse_alias(&mut c)?;
    let address = parse_address(&mut c)?;
    c.finish()?;
    Ok(virt_core::model::devices::Hub {
        hub_type,
        alias,
        address,
    })
}

pub(super) fn format_hub(w: &mut Writer, h: &virt_core::model::devices::Hub) {
    w.tag("hub")
        .attr("type", &h.hub_type)
        .children(|w| format_info(w, None, h.alias.as_deref(), h.address.as_ref()));
}

pub(super) fn parse_panic(mut c: Cursor<'_>) -> Result<Panic, XmlError> {
    let model = c.attr_with(
        "model",
        "expected isa, pseries, hyperv, s390 or pvpanic",
        PanicModel::from_xml,
    )?;
    let alias = parse_alias(&mut c)?;
    let address = parse_address(&mut c)?;
    c.finish()?;
    Ok(Panic {
        model,
        alias,
        address,
    })
}

pub(super) fn format_panic(w: &mut Writer, p: &Panic) {
    w.tag("panic")
        .attr_opt("model", p.model)
        .children(|w| format_info(w, None, p.alias.as_deref(), p.address.as_ref()));
}

const AUDIO_TYPES: &[&str] = &[
    "none",
    "alsa",
    "coreaudio",
    "jack",
    "oss",
    "pulseaudio",
    "sdl",
    "spice",
    "file",
    "dbus",
    "pipewire",
];

pub(super) fn parse_audio(mut c: Cursor<'_>) -> Result<Audio, XmlError> {
    let id = c
        .attr_u32("id")?
        .filter(|n| *n > 0)
        .ok_or_else(|| XmlError::Missing {
            path: c.attr_path("id"),
        })?;
    let audio_type = c
        .attr_word("type", AUDIO_TYPES)?
        .ok_or_else(|| XmlError::Missing {
            path: c.attr_path("type"),
        })?;
    c.finish()?;
    Ok(Audio { id, audio_type })
}

pub(super) fn format_audio(w: &mut Writer, a: &Audio) {
    w.tag("audio")
        .attr("id", a.id)
        .attr("type", &a.audio_type)
        .empty();
}
