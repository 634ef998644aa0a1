//! `tsunagi-admin`: IT's provisioning CLI — parses arguments, reads the passphrase, runs the
//! library's operation on a current-thread runtime and prints the result (`--json` too).
//! Exit 2 for bad input, 1 for failures; errors as `{"error": {"code", "message"}}`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use tsunagi_admin::{Admin, AdminError, DeviceView, Passphrase, init};
use zeroize::Zeroizing;

#[derive(Parser, Debug)]
#[command(
    name = "tsunagi-admin",
    version,
    about = "Tsunagi IT provisioning (つなぎ): org keys, teams, users, devices"
)]
struct Cli {
    /// The state directory (admin.json and the sealed keys).
    #[arg(long, env = "TSUNAGI_ADMIN_DIR", global = true)]
    dir: Option<PathBuf>,
    /// Machine-readable JSON output (errors too).
    #[arg(long, global = true)]
    json: bool,
    /// Read the passphrase from the first line of standard input (else TSUNAGI_ADMIN_PASSPHRASE).
    #[arg(long, global = true)]
    passphrase_stdin: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the org: admin key and org recovery key under the passphrase; bootstrap the server.
    Init {
        /// The server's base URL.
        #[arg(long)]
        server: String,
        /// The one-time token the server printed at its first start.
        #[arg(long)]
        bootstrap_token: String,
    },
    /// Teams.
    #[command(subcommand)]
    Team(TeamCmd),
    /// Users.
    #[command(subcommand)]
    User(UserCmd),
    /// Devices.
    #[command(subcommand)]
    Device(DeviceCmd),
}

#[derive(Subcommand, Debug)]
enum TeamCmd {
    /// Create a team.
    Create {
        /// Team id (e.g. csw-north).
        id: String,
        /// Program key (csw, dementia, infant).
        #[arg(long)]
        program: String,
    },
    /// Seal a new team key to the team's active devices and the org recovery key.
    RotateKey {
        /// Team id.
        team: String,
    },
}

#[derive(Subcommand, Debug)]
enum UserCmd {
    /// Create a user.
    Create {
        /// 氏名.
        #[arg(long)]
        name: String,
        /// Team id.
        #[arg(long)]
        team: String,
        /// worker or lead.
        #[arg(long, default_value = "worker")]
        role: String,
    },
}

#[derive(Subcommand, Debug)]
enum DeviceCmd {
    /// Issue a one-time enrollment bundle (file + QR code PNG next to it).
    Provision {
        /// User id.
        #[arg(long)]
        user: String,
        /// Validity of the code in hours (1–720).
        #[arg(long)]
        ttl_hours: Option<u32>,
        /// The bundle file (default <user>-<time>.tsunagi-enroll.json here).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The shortest PIN the device accepts (6–32 digits).
        #[arg(long, default_value_t = 6)]
        pin_min_digits: u32,
        /// Days the device may go without reaching the server before its store locks until
        /// it checks in (1–90).
        #[arg(long, default_value_t = 14)]
        lease_days: u32,
    },
    /// List devices: state, last seen.
    List {
        /// Only this team.
        #[arg(long)]
        team: Option<String>,
    },
    /// A device's keys and fingerprints, to compare with its screen.
    Show {
        /// Device id.
        device: String,
    },
    /// Approve a pending device after comparing its code: certificate, the team key and a new
    /// signed team statement.
    Approve {
        /// Device id.
        device: String,
        /// The device code shown on the device's own screen (all 8 groups, or the first 4 or
        /// more). Read it off the device, never off `device show`.
        #[arg(long)]
        code: String,
    },
    /// Revoke a device, then rotate its team's key.
    Revoke {
        /// Device id.
        device: String,
    },
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let admin_err = err.downcast_ref::<AdminError>();
            let code = admin_err.map_or("error", AdminError::code);
            if json {
                let out = ErrorOut {
                    error: ErrorBody {
                        code,
                        message: format!("{err:#}"),
                    },
                };
                println!("{}", serde_json::to_string(&out).unwrap_or_default());
            } else {
                eprintln!("error: {err:#} [{code}]");
            }
            if admin_err.is_some_and(AdminError::is_bad_input) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn state_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    if let Some(d) = &cli.dir {
        return Ok(d.clone());
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("no --dir, TSUNAGI_ADMIN_DIR or HOME")?;
    Ok(PathBuf::from(home).join(".local/share/tsunagi-admin"))
}

fn passphrase_text(from_stdin: bool) -> anyhow::Result<Zeroizing<String>> {
    if from_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the passphrase from standard input")?;
        if line.is_empty() {
            return Err(AdminError::PassphraseRequired.into());
        }
        return Ok(line);
    }
    match std::env::var("TSUNAGI_ADMIN_PASSPHRASE") {
        Ok(p) if !p.is_empty() => Ok(Zeroizing::new(p)),
        _ => Err(AdminError::PassphraseRequired.into()),
    }
}

fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T) -> String) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
    } else {
        println!("{}", human(value));
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = state_dir(&cli)?;
    let json = cli.json;
    let text = passphrase_text(cli.passphrase_stdin)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let open = || Admin::open(&dir, Passphrase::new(&text));
    match cli.command {
        Command::Init {
            server,
            bootstrap_token,
        } => {
            let passphrase = Passphrase::new_for_init(&text)?;
            let r = rt.block_on(init(&dir, &server, &bootstrap_token, &passphrase))?;
            print(json, &r, |r| {
                format!(
                    "org initialized in {}{}\nserver {}\n\nfingerprints (compare them on every device):\n  org recovery key  {}\n  admin key         {}\n  server            {}\n\nBack up admin.key and org-recovery.key, and keep the passphrase apart from them.",
                    r.dir.display(),
                    if r.resumed {
                        " (resumed with the existing key files)"
                    } else {
                        ""
                    },
                    r.server_url,
                    r.fingerprints.org_recovery,
                    r.fingerprints.admin,
                    r.fingerprints.server
                )
            });
        }
        Command::Team(TeamCmd::Create { id, program }) => {
            let admin = open()?;
            let t = rt.block_on(admin.create_team(&id, &program))?;
            print(json, &t, |t| {
                format!("team {} ({}) created", t.id, t.program)
            });
        }
        Command::Team(TeamCmd::RotateKey { team }) => {
            let admin = open()?;
            let r = rt.block_on(admin.rotate(&team, None))?;
            print(json, &r, |r| {
                format!(
                    "team {}: key epoch {} sealed to {} recipient(s): {}",
                    r.team,
                    r.epoch,
                    r.recipients.len(),
                    r.recipients.join(", ")
                )
            });
        }
        Command::User(UserCmd::Create { name, team, role }) => {
            let admin = open()?;
            let u = rt.block_on(admin.create_user(&name, &team, &role))?;
            print(json, &u, |u| {
                format!("{}  {} ({}, {})", u.id, u.name, u.team, u.role.key())
            });
        }
        Command::Device(DeviceCmd::Provision {
            user,
            ttl_hours,
            out,
            pin_min_digits,
            lease_days,
        }) => {
            let admin = open()?;
            let policy = tsunagi_admin::DevicePolicy {
                pin_min_digits,
                lease_days,
            };
            let r = rt.block_on(admin.provision_with(&user, ttl_hours, out.as_deref(), policy))?;
            print(json, &r, |r| {
                format!(
                    "{}\nenrollment bundle for {} ({}, {}) written to {}\nQR code: {}\nthe code is single use and expires at {}",
                    r.qr_terminal,
                    r.user_name,
                    r.team,
                    r.role.key(),
                    r.bundle_file.display(),
                    r.qr_png.display(),
                    r.expires_at
                )
            });
        }
        Command::Device(DeviceCmd::List { team }) => {
            let admin = open()?;
            let list = rt.block_on(admin.list_devices(team.as_deref()))?;
            print(json, &list, |l| render::device_list(l));
        }
        Command::Device(DeviceCmd::Show { device }) => {
            let admin = open()?;
            let d = rt.block_on(admin.show_device(&device))?;
            print(json, &d, render::device);
        }
        Command::Device(DeviceCmd::Approve { device, code }) => {
            let admin = open()?;
            let r = rt.block_on(admin.approve(&device, &code))?;
            print(json, &r, |r| {
                format!(
                    "{}\napproved: the device code matched; team key epoch {}{} sealed to it; team statement {}",
                    render::device(&r.device),
                    r.epoch,
                    if r.new_team_key { " (new)" } else { "" },
                    r.statement_version
                )
            });
        }
        Command::Device(DeviceCmd::Revoke { device }) => {
            let admin = open()?;
            let r = rt.block_on(admin.revoke(&device))?;
            print(json, &r, |r| match &r.rotation {
                Some(rot) => format!(
                    "device {} revoked; team {} key rotated to epoch {} for {} recipient(s)",
                    r.device,
                    r.team,
                    rot.epoch,
                    rot.recipients.len()
                ),
                None => format!(
                    "device {} revoked; team {} has no key yet, nothing to rotate",
                    r.device, r.team
                ),
            });
        }
    }
    Ok(())
}

mod render {
    //! Human-readable output.

    use super::DeviceView;

    pub fn device(d: &DeviceView) -> String {
        let i = &d.device;
        format!(
            "device {}\n  user     {} ({})\n  team     {} ({})\n  state    {}\n  code     {}  (as the server's keys give it: compare the device's own screen)\n  DevSig   {}\n  DevKEM   {}\n  enrolled {}  approved {}  revoked {}  last seen {}",
            i.id,
            i.user_name,
            i.user,
            i.team,
            i.role.key(),
            i.state.key(),
            d.device_code,
            d.sig_fingerprint,
            d.kem_fingerprint,
            i.enrolled_at,
            i.approved_at.as_deref().unwrap_or("-"),
            i.revoked_at.as_deref().unwrap_or("-"),
            i.last_seen.as_deref().unwrap_or("never"),
        )
    }

    pub fn device_list(list: &[DeviceView]) -> String {
        if list.is_empty() {
            return "(no devices)".into();
        }
        list.iter()
            .map(|d| {
                let i = &d.device;
                format!(
                    "{}  {:<8} {:<12} {:<6} {}  last seen {}",
                    i.id,
                    i.state.key(),
                    i.team,
                    i.role.key(),
                    i.user_name,
                    i.last_seen.as_deref().unwrap_or("never")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}
