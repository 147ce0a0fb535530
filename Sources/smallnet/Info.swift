// `smallnet info`: version, kernel variant and threads.
import ArgumentParser
import SmallNet

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the version, the kernel variant (instruction set) and GEMM in use, and the thread count.")

    func run() {
        let threads = ThreadPool.defaultThreadCount
        print("smallnet \(SmallNetVersion.string)")
        print("isa: \(KernelInfo.isaDescription)")
        print("gemm: \(KernelInfo.gemmDescription)")
        print("threads: \(threads.count) (default, from \(threads.source); --threads N to change)")
        if ThreadCount.usableCPUs.count != threads.count {
            print("cpus: \(ThreadCount.usableCPUs.count) (\(ThreadCount.usableCPUs.source))")
        }
        print("data: \(FashionMNIST.resolveDirectory(nil))")
    }
}
