// Shared by the hostile_* test plugins: the crate name picks the misdeed.
// Each tool is named after its crate. The tests check that the host stops
// or contains every one of them and keeps serving.
use toolhost_sdk::prelude::*;

const KIND: &str = env!("CARGO_PKG_NAME");

#[derive(Deserialize, JsonSchema)]
struct Input {
    /// For hostile_trap: "panic", "unreachable", "out_of_bounds", or "none"
    /// (behave, to show the next call after a trap works).
    #[serde(default)]
    kind: Option<String>,
}

/// What the tool observed, for the capability probes.
#[derive(Serialize, JsonSchema)]
struct Output {
    observed: String,
}

struct Hostile;

/// Exhausts the stack: recursion without end is the point.
#[allow(unconditional_recursion)]
#[inline(never)]
fn recurse(depth: u64, pad: &mut [u8; 256]) -> u64 {
    pad[(depth % 256) as usize] = depth as u8;
    std::hint::black_box(recurse(depth + 1, pad)) + pad[0] as u64
}

fn misbehave(input: Input) -> Result<Output, ToolError> {
    let observed = match KIND {
        "hostile_loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "hostile_memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "hostile_recursion" => recurse(0, &mut [0; 256]).to_string(),
        "hostile_output" => "x".repeat(8 << 20),
        "hostile_log" => {
            // About 300 KB to each of log and stdout, far past the 64 KiB cap.
            for i in 0..20_000 {
                toolhost_sdk::log::info(&format!("flood line {i}"));
                println!("stdout flood line {i}");
            }
            "logged".into()
        }
        "hostile_file" => match std::fs::read_to_string("/etc/passwd") {
            Ok(text) => format!("READ {} bytes", text.len()),
            Err(e) => format!("denied: {e}"),
        },
        "hostile_env" => {
            let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            format!("{} variables {:?}, HOME={:?}", vars.len(), vars, std::env::var("HOME").ok())
        }
        "hostile_socket" => {
            let connect = std::net::TcpStream::connect(("127.0.0.1", 22)).map(|_| ()).map_err(|e| e.to_string());
            let resolve = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 80))
                .map(|a| a.count())
                .map_err(|e| e.to_string());
            format!("connect: {connect:?}; resolve: {resolve:?}")
        }
        "hostile_trap" => match input.kind.as_deref() {
            Some("none") => "fine".into(),
            Some("unreachable") => std::process::abort(),
            Some("out_of_bounds") => {
                // A raw pointer past the end of linear memory.
                let p = std::hint::black_box(0xffff_fff0usize) as *const u64;
                unsafe { std::ptr::read_volatile(p) }.to_string()
            }
            _ => panic!("a hostile panic"),
        },
        other => return Err(ToolError::Failed(format!("unknown hostile kind {other}"))),
    };
    Ok(Output { observed })
}

impl Tool for Hostile {
    type Input = Input;
    type Output = Output;

    fn describe() -> Describe {
        Describe::new(KIND, "A hostile test plugin.")
    }

    fn call(_ctx: &Context, input: Input) -> Result<Output, ToolError> {
        misbehave(input)
    }
}

toolhost_sdk::export_tool!(Hostile);
