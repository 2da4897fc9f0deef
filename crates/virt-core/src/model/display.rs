//! Input, graphics, video and sound devices of a domain.

use super::devices::Address;
use super::enums::{GraphicsType, InputBus, InputType, ListenType, SoundModel, VideoModel};

/// `<input>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Input {
    /// `type=...`.
    pub input_type: InputType,
    /// `bus=...`; tablets default to `usb`, other x86 inputs to `ps2`.
    pub bus: Option<InputBus>,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// `<graphics>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Graphics {
    /// `type=...`.
    pub graphics_type: GraphicsType,
    /// `port=...` (vnc, spice); `None` when allocated automatically.
    pub port: Option<u32>,
    /// `tlsPort=...` (spice).
    pub tls_port: Option<u32>,
    /// `autoport=...` (vnc, spice).
    pub autoport: bool,
    /// `websocket=...` (vnc); -1 = allocate.
    pub websocket: Option<i32>,
    /// `keymap=...` (vnc, spice).
    pub keymap: Option<String>,
    /// `sharePolicy=...` (vnc).
    pub share_policy: Option<String>,
    /// `defaultMode=...` (spice).
    pub default_mode: Option<String>,
    /// `passwd=...`: printed only in secure XML.
    pub passwd: Option<String>,
    /// `passwdValidTo=...`.
    pub passwd_valid_to: Option<String>,
    /// `connected=...` (`keep`, `disconnect`, `fail`).
    pub connected: Option<String>,
    /// `display=...` (sdl).
    pub display: Option<String>,
    /// `xauth=...` (sdl).
    pub xauth: Option<String>,
    /// `fullscreen='yes|no'` (sdl).
    pub fullscreen: Option<bool>,
    /// `<listen>` children; the legacy `listen=` attribute mirrors the first address listen.
    pub listens: Vec<Listen>,
    /// `<channel name=... mode=...>` (spice): `(name, mode)` in document order; names
    /// `main`, `display`, `inputs`, `cursor`, `playback`, `record`, `smartcard`, `usbredir`;
    /// modes `any`, `secure`, `insecure`.
    pub channels: Vec<(String, String)>,
    /// `<image compression=...>` (spice).
    pub image_compression: Option<String>,
    /// `<jpeg compression='auto|never|always'>` (spice).
    pub jpeg_compression: Option<String>,
    /// `<zlib compression='auto|never|always'>` (spice).
    pub zlib_compression: Option<String>,
    /// `<playback compression='on|off'>` (spice).
    pub playback_compression: Option<bool>,
    /// `<streaming mode='filter|all|off'>` (spice).
    pub streaming_mode: Option<String>,
    /// `<filetransfer enable='yes|no'>` (spice).
    pub filetransfer_enable: Option<bool>,
    /// `<mouse mode=...>` (spice).
    pub mouse_mode: Option<String>,
    /// `<clipboard copypaste='yes|no'>` (spice).
    pub clipboard_copypaste: Option<bool>,
    /// `<gl enable=...>`.
    pub gl_enable: Option<bool>,
    /// `<gl rendernode=...>`.
    pub gl_rendernode: Option<String>,
}

/// `<graphics><listen>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listen {
    /// `type=...`.
    pub listen_type: ListenType,
    /// `address=...` (address, network).
    pub address: Option<String>,
    /// `network=...` (network).
    pub network: Option<String>,
    /// `socket=...` (socket).
    pub socket: Option<String>,
}

/// `<video>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Video {
    /// `<model type=...>`.
    pub model: VideoModel,
    /// `<model ram=...>` KiB (qxl).
    pub ram: Option<u32>,
    /// `<model vram=...>` KiB.
    pub vram: Option<u32>,
    /// `<model vram64=...>` KiB (qxl).
    pub vram64: Option<u32>,
    /// `<model vgamem=...>` KiB (qxl).
    pub vgamem: Option<u32>,
    /// `<model heads=...>`.
    pub heads: Option<u32>,
    /// `<model primary='yes'>`.
    pub primary: bool,
    /// `<acceleration accel3d=...>`.
    pub accel3d: Option<bool>,
    /// `<acceleration accel2d=...>`.
    pub accel2d: Option<bool>,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// `<sound>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sound {
    /// `model=...`.
    pub model: SoundModel,
    /// `<codec type=...>` children.
    pub codecs: Vec<String>,
    /// `<alias name=...>`: a user alias (`ua-...`), or the name the driver gave the
    /// device for this run (live definitions only).
    pub alias: Option<String>,
    /// `<address>`.
    pub address: Option<Address>,
}

/// `<audio>`: a host audio backend that sound devices and graphics refer to by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Audio {
    /// `id=...` (1 and up).
    pub id: u32,
    /// `type=...`: `none`, `spice`, `alsa`, `pulseaudio`, `sdl`, `oss`, `coreaudio`, `jack`,
    /// `pipewire`, `dbus`, `file`.
    pub audio_type: String,
}
