// The parameter-budget study: which runs make up the three tables, and the published figures.
import SmallNet

/// One training run of the study: a cell of a table with one seed.
struct StudyRun {
    /// Which table it belongs to: 1 (FCN budgets), 2 (optimizers × learning rates), 3 (CNN budgets).
    let table: Int
    /// The table cell, a file-name-safe identifier, e.g. "t2-cnn-100k-adam-0.005".
    let cell: String
    /// The seed of initialisation, shuffling, dropout and augmentation.
    let seed: Int
    let arch: Architecture
    let budget: Int
    let optimizer: OptimizerKind?
    let learningRate: Float?
    /// The figure of the reference report for this row (a fraction), if it has one.
    let published: Double?

    /// The run's identifier: the cell's, with "-s<seed>" for seeds after 0 (so that the runs of
    /// a one-seed study are the seed-0 runs of a study of several seeds).
    var id: String { seed == 0 ? cell : "\(cell)-s\(seed)" }

    /// Arguments of `smallnet train` for this run (without output and data options).
    func trainArguments(quick: Bool) -> [String] {
        var args = ["train", "--arch", arch.rawValue, "--params", String(budget), "--seed", String(seed)]
        if let optimizer { args += ["--optimizer", optimizer.rawValue] }
        if let learningRate { args += ["--lr", "\(learningRate)"] }
        if table == 2 { args += StudyPlan.table2Settings }
        if quick {
            args += ["--epochs", "1", "--train-limit", arch == .fcn ? "6000" : "1500"]
        } else if table == 2 {
            args += ["--epochs", String(StudyPlan.table2Epochs)]
        }
        return args
    }

    /// The run's work, to start the longest runs first: the images it trains on (epochs × 60,000,
    /// or the quick study's limit) times its model's forward FLOPs per image.
    func work(quick: Bool) -> Double {
        let recipe = Recipe.defaults(for: arch, budget: budget)
        let flops = (try? recipe.buildModel().forwardFLOPs) ?? 0
        let images = quick ? (arch == .fcn ? 6000 : 1500) : 60_000 * (table == 2 ? StudyPlan.table2Epochs : recipe.training.epochs)
        return Double(flops) * Double(images)
    }
}

/// The study of the reference report, reproduced with smallnet's recipes.
enum StudyPlan {
    /// Table 2 compares optimizers and learning rates; shorter runs keep the study under the
    /// time it is given, and every configuration gets the same budget.
    static let table2Epochs = 10
    /// Table 2 isolates the optimizer: every run starts from PyTorch's default initialisation
    /// (the start a PyTorch user gets), with no weight decay and no augmentation (which slows
    /// the small learning rates most in short runs); the rest is the CNN recipe.
    static let table2Settings = ["--initialization", "pytorch", "--weight-decay", "0", "--augment", "none"]
    static var table2Description: String {
        "100K CNN, \(table2Epochs) epochs from PyTorch's default initialisation, no weight decay, no augmentation; "
            + "otherwise the CNN recipe: batch 64, cosine schedule, label smoothing 0.1, SGD momentum 0.9"
    }

    static let fcnBudgets = [50_000, 100_000, 200_000]
    static let cnnBudgets = [10_000, 20_000, 50_000, 100_000]
    static let learningRates: [Float] = [0.01, 0.005, 0.001]
    static let optimizers: [OptimizerKind] = [.sgd, .adam, .rmsprop]

    /// The reference report's test accuracies.
    static let publishedFCN: [Int: Double] = [50_000: 0.8769, 100_000: 0.8815, 200_000: 0.8800]
    static let publishedCNN: [Int: Double] = [10_000: 0.7875, 20_000: 0.7938, 50_000: 0.8988, 100_000: 0.9171]
    static let publishedTable2: [OptimizerKind: [Double]] = [.sgd: [0.9155, 0.9171, 0.8966], .adam: [0.9058, 0.9093, 0.8932]]

    /// The 16 runs of one seed, in the order they start: Table 1, Table 3, Table 2.
    static var runs: [StudyRun] { runs(seeds: 1) }

    /// Every cell with seeds 0..<seeds, seed by seed (all of seed 0 first).
    static func runs(seeds: Int) -> [StudyRun] {
        var runs: [StudyRun] = []
        for seed in 0..<max(1, seeds) {
            for b in fcnBudgets {
                runs.append(StudyRun(table: 1, cell: "t1-fcn-\(b / 1000)k", seed: seed, arch: .fcn, budget: b, optimizer: nil,
                                     learningRate: nil, published: publishedFCN[b]))
            }
            for b in cnnBudgets {
                runs.append(StudyRun(table: 3, cell: "t3-cnn-\(b / 1000)k", seed: seed, arch: .cnn, budget: b, optimizer: nil,
                                     learningRate: nil, published: publishedCNN[b]))
            }
            for o in optimizers {
                for (i, lr) in learningRates.enumerated() {
                    runs.append(StudyRun(table: 2, cell: "t2-cnn-100k-\(o.rawValue)-\(lr)", seed: seed, arch: .cnn,
                                         budget: 100_000, optimizer: o, learningRate: lr, published: publishedTable2[o]?[i]))
                }
            }
        }
        return runs
    }
}
