//! Wayne's World camera 2: camera 1's program, which knows by its name that
//! it is camera 2 here.

#[path = "camera1.rs"]
mod camera1;

fn main() -> std::process::ExitCode {
    camera1::main()
}
