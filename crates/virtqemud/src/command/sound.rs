//! Sound devices on the command line: the HD Audio controllers (`intel-hda` for ich6,
//! `ich9-intel-hda`) with one codec device per `<codec>` (duplex by default) wired to the
//! audio backend, and the simpler cards (AC97, ES1370, SB16, USB audio), as libvirt 9.0
//! writes them. `pcspk` is a machine property, not a device.

use virt_core::model::enums::SoundModel;
use virt_core::VirtError;

use super::devices::{id_of, pci_addr};
use super::json::Json;
use super::{unsupported, Builder};

pub(super) fn sounds(b: &mut Builder<'_>) -> Result<(), VirtError> {
    let audio = b.def.devices.audios.first().map_or(1, |a| a.id);
    let audiodev = format!("audio{audio}");
    for (i, s) in b.def.devices.sounds.iter().enumerate() {
        let id = id_of(&s.alias, || format!("sound{i}"));
        let (driver, hda) = match s.model {
            SoundModel::Ich6 => ("intel-hda", true),
            SoundModel::Ich9 => ("ich9-intel-hda", true),
            SoundModel::Ac97 => ("AC97", false),
            SoundModel::Es1370 => ("ES1370", false),
            SoundModel::Sb16 => ("sb16", false),
            SoundModel::Usb => ("usb-audio", false),
            m => {
                return Err(unsupported(format!(
                    "{id}: sound model '{m}' is not supported (ich6, ich9, ac97, es1370, \
                     sb16, usb)"
                )))
            }
        };
        let mut dev = Json::obj([("driver", Json::str(driver)), ("id", Json::str(id.clone()))]);
        match s.model {
            SoundModel::Usb => {
                dev.set("audiodev", Json::str(audiodev.clone()));
                super::usb::usb_addr(b, &mut dev, &s.address, &id)?;
            }
            SoundModel::Sb16 => dev.set("audiodev", Json::str(audiodev.clone())),
            _ => {
                if !hda {
                    dev.set("audiodev", Json::str(audiodev.clone()));
                }
                pci_addr(b, &mut dev, &s.address, &id)?;
            }
        }
        b.json("-device", dev);
        if hda {
            let codecs: Vec<&str> = if s.codecs.is_empty() {
                vec!["duplex"]
            } else {
                s.codecs.iter().map(String::as_str).collect()
            };
            for (cad, codec) in codecs.iter().enumerate() {
                b.json(
                    "-device",
                    Json::obj([
                        ("driver", Json::str(format!("hda-{codec}"))),
                        ("id", Json::str(format!("{id}-codec{cad}"))),
                        ("bus", Json::str(format!("{id}.0"))),
                        ("cad", Json::Num(cad as u64)),
                        ("audiodev", Json::str(audiodev.clone())),
                    ]),
                );
            }
        }
    }
    Ok(())
}
