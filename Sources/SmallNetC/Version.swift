// Versions, the kernel variant, error strings and the thread setting.
#if canImport(Glibc)
import Glibc
#endif
import CSmallNetABI
import SmallNet
import SmallNetKernels

private let versionString: UnsafePointer<CChar> = UnsafePointer(strdup(SmallNetVersion.string)!)

@_cdecl("sn_version_string")
public func sn_version_string() -> UnsafePointer<CChar> { versionString }

@_cdecl("sn_abi_version")
public func sn_abi_version() -> UInt32 { UInt32(SN_ABI_VERSION) }

private let isaName: UnsafePointer<CChar> = UnsafePointer(strdup(ISAChoice.process.isa?.rawValue ?? "none")!)

@_cdecl("sn_isa")
public func sn_isa() -> UnsafePointer<CChar> {
    if let problem = ISAChoice.process.problem { setLastError(problem) }
    return isaName
}

@_cdecl("sn_last_error")
public func sn_last_error() -> UnsafePointer<CChar> { lastErrorPointer() }

private let statusNames: [UnsafePointer<CChar>] = ([
    "ok", "invalid argument", "shape mismatch", "out of memory", "I/O error", "bad state", "not found",
    "internal error", "training diverged", "unsupported CPU",
] as [String]).map { UnsafePointer(strdup($0)!) }
private let unknownStatus: UnsafePointer<CChar> = UnsafePointer(strdup("unknown status")!)

@_cdecl("sn_status_string")
public func sn_status_string(_ status: sn_status) -> UnsafePointer<CChar> {
    status >= 0 && Int(status) < statusNames.count ? statusNames[Int(status)] : unknownStatus
}

@_cdecl("sn_set_num_threads")
public func sn_set_num_threads(_ n: Int32) -> sn_status {
    guarded {
        guard n >= 0 && n <= 64 else { throw invalid("thread count must be 0 (the default) or 1...64, got \(n)") }
        SharedThreads.shared.set(n == 0 ? ThreadPool.availableProcessors : Int(n))
    }
}

@_cdecl("sn_get_num_threads")
public func sn_get_num_threads() -> Int32 {
    // The engine's thread setting is not touched on a CPU that cannot run it.
    guard ISAChoice.process.isa != nil else { return 1 }
    return Int32(SharedThreads.shared.threadCount)
}
